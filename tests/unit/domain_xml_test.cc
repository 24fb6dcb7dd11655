// Parsing libvirt domain XML into DomainInfo: disks, their <backingStore>
// chains as libvirt records them (R2.3's "make libvirt's view match the
// files" starts with reading that view), the guest agent channel, and
// malformed input refused.
#include "hypervisor/domain_xml.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

#include "util/fs.h"

using namespace strata;
using namespace strata::hypervisor;

namespace {

// Trimmed from `virsh dumpxml` of a running libvirt 9.0 TCG domain after one
// external disk-only snapshot.
const char kDomain[] = R"(<domain type='qemu' id='3'>
  <name>guest1</name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <memory unit='KiB'>262144</memory>
  <vcpu placement='static'>1</vcpu>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:owner>
        <nova:user uuid="u-123">demo</nova:user>
        <nova:project uuid="p-456">demo</nova:project>
      </nova:owner>
    </nova:instance>
  </metadata>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <kernel>/var/tmp/g/vmlinuz</kernel><initrd>/var/tmp/g/initrd.img</initrd></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='/d/vm1.qcow2' index='2'/>
      <backingStore type='file' index='1'>
        <format type='qcow2'/>
        <source file='/d/vm1.snap-1.qcow2'/>
        <backingStore type='file' index='3'>
          <format type='raw'/>
          <source file='/base/img.raw'/>
          <backingStore/>
        </backingStore>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw'/>
      <source dev='/dev/sdb'/>
      <backingStore/>
      <target dev='vdb' bus='virtio'/>
      <serial>6f1c0a52-9d0e-4c1e-8f3a-2b7d5e4c9a10</serial>
    </disk>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='nbd' name='g'>
        <host transport='unix' socket='/var/lib/strata/nbd/g.sock'/>
      </source>
      <target dev='vdc' bus='virtio'/>
    </disk>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>
    </channel>
  </devices>
</domain>)";

}  // namespace

TEST_CASE("domain XML: identity, disks and backing chains") {
  auto info = ParseDomainXml(kDomain);
  REQUIRE_MESSAGE(info.ok(), info.status().ToString());
  CHECK(info->name == "guest1");
  CHECK(info->uuid == "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
  CHECK(info->memory_kib == 262144);
  CHECK(info->vcpus == 1);
  CHECK(info->has_guest_agent);
  CHECK(info->guest_agent_connected);  // libvirt saw qemu-ga open it
  CHECK(info->virt_type == "qemu");    // R1.1's VM type
  CHECK(info->project_id == "p-456");  // Nova's owner metadata
  CHECK(info->user_id == "u-123");
  REQUIRE(info->disks.size() == 4);
  const DomainDisk& vda = info->disks[0];
  CHECK(vda.target == "vda");
  CHECK(vda.device == "disk");
  CHECK(vda.format == "qcow2");
  CHECK(vda.source == "/d/vm1.qcow2");
  REQUIRE(vda.backing_chain.size() == 2);
  CHECK(vda.backing_chain[0] == "/d/vm1.snap-1.qcow2");
  CHECK(vda.backing_chain[1] == "/base/img.raw");
  CHECK(info->disks[1].device == "cdrom");
  CHECK(info->disks[1].source.empty());
  CHECK(info->disks[2].source == "/dev/sdb");
  CHECK(info->disks[2].backing_chain.empty());
  CHECK(vda.serial.empty());
  // Nova's mark of an attached Cinder volume (os-assisted-volume-snapshots).
  CHECK(info->disks[2].serial == "6f1c0a52-9d0e-4c1e-8f3a-2b7d5e4c9a10");
  REQUIRE(info->Disk("vdb") != nullptr);
  CHECK(info->Disk("vdb")->source == "/dev/sdb");
  // A disk on an NBD export's unix socket (Strata's own, issue 6).
  REQUIRE(info->Disk("vdc") != nullptr);
  CHECK(info->Disk("vdc")->source.empty());
  CHECK(info->Disk("vdc")->nbd_socket == "/var/lib/strata/nbd/g.sock");
  CHECK(vda.nbd_socket.empty());
  CHECK(info->Disk("vdz") == nullptr);
  REQUIRE(info->SystemDisk() != nullptr);
  CHECK(info->SystemDisk()->target == "vda");
}

TEST_CASE("domain XML: no agent, no disks") {
  auto info = ParseDomainXml(
      "<domain type='kvm'><name>x</name><uuid>u</uuid><devices/></domain>");
  REQUIRE(info.ok());
  CHECK_FALSE(info->has_guest_agent);
  CHECK_FALSE(info->guest_agent_connected);
  CHECK(info->virt_type == "kvm");
  CHECK(info->project_id.empty());
  CHECK(info->disks.empty());
  CHECK(info->SystemDisk() == nullptr);
}

TEST_CASE("domain XML: malformed input is refused") {
  CHECK(ParseDomainXml("").status().code() == StatusCode::kCorruption);
  CHECK(ParseDomainXml("<domain><name>").status().code() ==
        StatusCode::kCorruption);
  CHECK(ParseDomainXml("<network/>").status().code() ==
        StatusCode::kCorruption);
  CHECK(NovaStatus(DomainState::kRunning) == std::string("ACTIVE"));
  CHECK(NovaStatus(DomainState::kShutoff) == std::string("SHUTOFF"));
  CHECK(NovaStatus(DomainState::kPaused) == std::string("PAUSED"));
}

// ChainPosition finds a file of a disk's chain by the names Cinder's
// remotefs drivers use: relative to the active image's directory (as qcow2
// backing names are), absolute, or through another path to the same file.
TEST_CASE("chain position: relative, absolute and aliased names") {
  char tmpl[] = "/tmp/strata-chainpos.XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  for (const char* f : {"volume-1", "volume-1.s1", "volume-1.s2"})
    std::ofstream(dir + "/" + f) << "x";
  REQUIRE(symlink(dir.c_str(), (dir + ".link").c_str()) == 0);
  DomainDisk disk;
  disk.source = dir + "/volume-1.s2";
  disk.backing_chain = {dir + "/volume-1.s1", dir + "/volume-1"};
  CHECK(disk.ChainPosition("volume-1.s2") == 0);
  CHECK(disk.ChainPosition("volume-1.s1") == 1);
  CHECK(disk.ChainPosition("volume-1") == 2);
  CHECK(disk.ChainPosition(dir + "/volume-1") == 2);
  CHECK(disk.ChainPosition(dir + ".link/volume-1.s1") == 1);
  CHECK(disk.ChainPosition("../" + BaseName(dir) + "/volume-1") == 2);
  CHECK(disk.ChainPosition("volume-2") == -1);  // no such file
  CHECK(disk.ChainPosition("") == -1);
  std::ofstream(dir + "/stray") << "x";
  CHECK(disk.ChainPosition("stray") == -1);  // exists, not in the chain
  unlink((dir + ".link").c_str());
  for (const char* f : {"volume-1", "volume-1.s1", "volume-1.s2", "stray"})
    unlink((dir + "/" + f).c_str());
  rmdir(dir.c_str());
}

// R1.8's start on the mirror: a disk's chain given explicitly in the
// definition replaces any chain there, parses back as that chain, and an
// empty chain removes it; the other disks are left alone.
TEST_CASE("WithDiskBackingChain sets, replaces and removes a disk's chain") {
  auto with = WithDiskBackingChain(
      kDomain, "vda", {{"/v/m1.qcow2", "qcow2"}, {"/v/m0.qcow2", "qcow2"}});
  REQUIRE(with.ok());
  auto parsed = ParseDomainXml(*with);
  REQUIRE(parsed.ok());
  const DomainDisk* vda = parsed->Disk("vda");
  REQUIRE(vda);
  CHECK(vda->backing_chain ==
        std::vector<std::string>{"/v/m1.qcow2", "/v/m0.qcow2"});
  CHECK(with->find("<format type=\"qcow2\"/>") != std::string::npos);
  auto original = ParseDomainXml(kDomain);
  REQUIRE(original.ok());
  CHECK(parsed->disks.size() == original->disks.size());
  auto without = WithDiskBackingChain(*with, "vda", {});
  REQUIRE(without.ok());
  auto back = ParseDomainXml(*without);
  REQUIRE(back.ok());
  CHECK(back->Disk("vda")->backing_chain.empty());
  CHECK(without->find("/v/m0.qcow2") == std::string::npos);
  for (const auto& d : original->disks)
    if (d.target != "vda")
      CHECK(back->Disk(d.target)->backing_chain == d.backing_chain);
  CHECK(back->Disk("vda")->source == original->Disk("vda")->source);
  CHECK(WithDiskBackingChain(kDomain, "vdz", {}).status().IsNotFound());
}

TEST_CASE("WithDiskBackingChain: a layer served over NBD is a network source") {
  hypervisor::BackingFile served{"/v/m1.qcow2", "qcow2", "/run/s/l1.sock",
                                 "l1"};
  auto with =
      WithDiskBackingChain(kDomain, "vda", {served, {"/v/m0.qcow2", "qcow2"}});
  REQUIRE(with.ok());
  CHECK(with->find("<backingStore type=\"network\">") != std::string::npos);
  CHECK(with->find("<source protocol=\"nbd\" name=\"l1\">") !=
        std::string::npos);
  auto parsed = ParseDomainXml(*with);
  REQUIRE(parsed.ok());
  CHECK(parsed->Disk("vda")->backing_chain ==
        std::vector<std::string>{"nbd+unix:///l1?socket=/run/s/l1.sock",
                                 "/v/m0.qcow2"});
  // The disk itself is still the file it was.
  CHECK(parsed->Disk("vda")->source ==
        ParseDomainXml(kDomain)->Disk("vda")->source);
}

TEST_CASE("WithDiskBackingChain sets and removes a disk's error policies") {
  auto stop =
      WithDiskBackingChain(kDomain, "vda", {}, DiskErrorPolicy{"stop", "stop"});
  REQUIRE(stop.ok());
  auto parsed = ParseDomainXml(*stop);
  REQUIRE(parsed.ok());
  CHECK(parsed->Disk("vda")->error_policy == "stop");
  CHECK(parsed->Disk("vda")->rerror_policy == "stop");
  CHECK(parsed->Disk("vda")->format ==
        ParseDomainXml(kDomain)->Disk("vda")->format);
  auto back =
      WithDiskBackingChain(*stop, "vda", {}, DiskErrorPolicy{"enospc", ""});
  REQUIRE(back.ok());
  parsed = ParseDomainXml(*back);
  REQUIRE(parsed.ok());
  CHECK(parsed->Disk("vda")->error_policy == "enospc");
  CHECK(parsed->Disk("vda")->rerror_policy == "");
  CHECK(back->find("rerror_policy") == std::string::npos);
  // Without a policy they are left as they are.
  auto kept = WithDiskBackingChain(*stop, "vda", {});
  REQUIRE(kept.ok());
  CHECK(ParseDomainXml(*kept)->Disk("vda")->rerror_policy == "stop");
}
