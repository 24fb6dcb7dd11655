// A policy's server targets (R1.1): named by server, host name or LAN
// address, validated as the API takes them, and matched against what the
// guest agent reports. The lookup through a real libvirt and guest agent is
// tests/integration/test-policy-targets.sh.
#include "policy/server_target.h"

#include <doctest/doctest.h>

using namespace strata;
using namespace strata::policy;

namespace {

Status Apply(const std::string& servers_json) {
  db::PolicyRecord rec;
  return ApplyPolicyBody(
      nlohmann::json::parse(R"({"schedule": "daily", "targets": {"servers": )" +
                            servers_json + "}}"),
      true, &rec);
}

Result<PolicyTargets> Stored(const std::string& servers_json) {
  db::PolicyRecord rec;
  STRATA_RETURN_IF_ERROR(ApplyPolicyBody(
      nlohmann::json::parse(R"({"schedule": "daily", "targets": {"servers": )" +
                            servers_json + "}}"),
      true, &rec));
  return ReadTargets(rec);
}

hypervisor::GuestAddress Addr(const std::string& a, const std::string& type) {
  return {"eth0", "52:54:00:00:00:01", a, type, type == "ipv6" ? 64 : 24};
}

}  // namespace

TEST_CASE("a server target names a server, a host name or an address") {
  auto t = Stored(
      R"([{"host_name": "db1.example.org", "disks": "data"},
          {"address": "10.0.2.15"}, {"address": "fd00::15"}, "vm1",
          {"server": "vm2", "disks": "system"}])");
  REQUIRE_MESSAGE(t.ok(), t.status().ToString());
  REQUIRE(t->servers.size() == 5);
  CHECK(t->servers[0].host_name == "db1.example.org");
  CHECK(t->servers[0].server.empty());
  CHECK(t->servers[0].disks == "data");
  CHECK(t->servers[1].address == "10.0.2.15");
  CHECK(t->servers[1].disks == "all");
  CHECK(t->servers[2].address == "fd00::15");
  CHECK(t->servers[3].server == "vm1");
  CHECK(t->servers[4].server == "vm2");
  CHECK(DescribeTarget(t->servers[0]) == "host name db1.example.org");
  CHECK(DescribeTarget(t->servers[1]) == "address 10.0.2.15");
  CHECK(DescribeTarget(t->servers[3]) == "server vm1");
}

TEST_CASE("a bad server target is a 400 naming the field") {
  auto bad = [](const std::string& j, const std::string& field) {
    Status s = Apply(j);
    CHECK_MESSAGE(s.code() == StatusCode::kInvalidArgument, j);
    CHECK_MESSAGE(
        s.message().find("field/attribute " + field) != std::string::npos,
        s.message());
  };
  bad(R"([{"host_name": "db_1"}])", "targets.servers.host_name");
  bad(R"([{"host_name": "-db1"}])", "targets.servers.host_name");
  bad(R"([{"host_name": "db1..example"}])", "targets.servers.host_name");
  bad(R"([{"host_name": ""}])", "targets.servers");
  bad(R"([{"address": "10.0.2.256"}])", "targets.servers.address");
  bad(R"([{"address": "db1"}])", "targets.servers.address");
  bad(R"([{"address": 10}])", "targets.servers.address");
  // Exactly one way to name it.
  bad(R"([{"server": "vm1", "address": "10.0.2.15"}])", "targets.servers");
  bad(R"([{"disks": "all"}])", "targets.servers");
  bad(R"([{"hostname": "db1"}])", "targets.servers.hostname");
}

TEST_CASE("host names match ignoring case, or by their first label") {
  CHECK(HostNameMatches("db1.example.org", "db1.example.org"));
  CHECK(HostNameMatches("DB1.Example.org", "db1.example.ORG"));
  CHECK(HostNameMatches("db1.example.org", "db1"));
  CHECK(HostNameMatches("db1", "db1"));
  CHECK_FALSE(HostNameMatches("db10.example.org", "db1"));
  CHECK_FALSE(HostNameMatches("db1", "db1.example.org"));
  CHECK_FALSE(HostNameMatches("db1.example.org", "db1.example"));
  CHECK_FALSE(HostNameMatches("", "db1"));
}

TEST_CASE("addresses match as addresses, not as text") {
  const std::vector<hypervisor::GuestAddress> a = {
      Addr("10.0.2.15", "ipv4"), Addr("fd00:0:0::15", "ipv6")};
  CHECK(HasAddress(a, "10.0.2.15"));
  CHECK(HasAddress(a, "fd00::15"));
  CHECK(HasAddress(a, "FD00::0:15"));
  CHECK_FALSE(HasAddress(a, "10.0.2.1"));
  CHECK_FALSE(HasAddress(a, "10.0.2.150"));
  CHECK_FALSE(HasAddress(a, "not an address"));
  CHECK_FALSE(HasAddress({}, "10.0.2.15"));
}
