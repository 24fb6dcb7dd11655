// Domain XML parsing. See domain_xml.h.
#include "hypervisor/domain_xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include <cstdio>
#include <memory>
#include <vector>

namespace strata::hypervisor {
namespace {

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct CtxFree {
  void operator()(xmlXPathContext* c) const { xmlXPathFreeContext(c); }
};
struct ObjFree {
  void operator()(xmlXPathObject* o) const { xmlXPathFreeObject(o); }
};
using Doc = std::unique_ptr<xmlDoc, DocFree>;
using Ctx = std::unique_ptr<xmlXPathContext, CtxFree>;
using Obj = std::unique_ptr<xmlXPathObject, ObjFree>;

// Evaluates `expr` relative to `node`; returns the matching nodes.
std::vector<xmlNode*> Select(xmlXPathContext* ctx, xmlNode* node,
                             const char* expr) {
  ctx->node = node;
  Obj obj(xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(expr), ctx));
  std::vector<xmlNode*> out;
  if (obj && obj->nodesetval)
    for (int i = 0; i < obj->nodesetval->nodeNr; ++i)
      out.push_back(obj->nodesetval->nodeTab[i]);
  return out;
}

std::string Attr(xmlNode* n, const char* name) {
  if (!n) return "";
  xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
  if (!v) return "";
  std::string s(reinterpret_cast<char*>(v));
  xmlFree(v);
  return s;
}

std::string Text(xmlNode* n) {
  if (!n) return "";
  xmlChar* v = xmlNodeGetContent(n);
  if (!v) return "";
  std::string s(reinterpret_cast<char*>(v));
  xmlFree(v);
  return s;
}

xmlNode* First(xmlXPathContext* ctx, xmlNode* node, const char* expr) {
  auto v = Select(ctx, node, expr);
  return v.empty() ? nullptr : v.front();
}

// <source file=…> or <source dev=…> of a disk or backingStore element.
std::string SourcePath(xmlXPathContext* ctx, xmlNode* n) {
  xmlNode* src = First(ctx, n, "./source");
  std::string p = Attr(src, "file");
  return p.empty() ? Attr(src, "dev") : p;
}

// A backingStore's layer: its file, or an NBD source on a unix socket as
// its URI (nbd+unix:///NAME?socket=PATH: a stored layer served while it
// downloads).
std::string LayerPath(xmlXPathContext* ctx, xmlNode* n) {
  xmlNode* src = First(ctx, n, "./source");
  if (Attr(src, "protocol") == "nbd") {
    const std::string sock =
        Attr(First(ctx, src, "./host[@transport='unix']"), "socket");
    if (sock.empty()) return "";
    return "nbd+unix:///" + Attr(src, "name") + "?socket=" + sock;
  }
  return SourcePath(ctx, n);
}

// A domain XML document and an XPath context on it.
struct ParsedXml {
  Doc doc;
  Ctx ctx;
};

Result<ParsedXml> ParseXml(const std::string& xml) {
  Doc doc(xmlReadMemory(
      xml.data(), static_cast<int>(xml.size()), "domain.xml", nullptr,
      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) return Status::Corruption("domain XML does not parse");
  Ctx ctx(xmlXPathNewContext(doc.get()));
  if (!ctx) return Status::Internal("xmlXPathNewContext failed");
  return ParsedXml{std::move(doc), std::move(ctx)};
}

}  // namespace

Result<DomainInfo> ParseDomainXml(const std::string& xml) {
  STRATA_ASSIGN_OR_RETURN(ParsedXml parsed, ParseXml(xml));
  Ctx& ctx = parsed.ctx;
  xmlNode* root = xmlDocGetRootElement(parsed.doc.get());
  if (!root ||
      std::string(reinterpret_cast<const char*>(root->name)) != "domain")
    return Status::Corruption("domain XML has no <domain> root");
  DomainInfo info;
  info.name = Text(First(ctx.get(), root, "./name"));
  info.uuid = Text(First(ctx.get(), root, "./uuid"));
  std::string mem = Text(First(ctx.get(), root, "./memory"));
  info.memory_kib = mem.empty() ? 0 : std::stoull(mem);
  std::string vcpu = Text(First(ctx.get(), root, "./vcpu"));
  info.vcpus = vcpu.empty() ? 0 : static_cast<unsigned>(std::stoul(vcpu));
  info.virt_type = Attr(root, "type");
  xmlNode* agent =
      First(ctx.get(), root,
            "./devices/channel/target[@name='org.qemu.guest_agent.0']");
  info.has_guest_agent = agent != nullptr;
  info.guest_agent_connected = Attr(agent, "state") == "connected";
  // Nova's namespaced metadata, matched by local name.
  const char kOwner[] =
      "./metadata/*[local-name()='instance']/*[local-name()='owner']/"
      "*[local-name()='%s']";
  char expr[256];
  std::snprintf(expr, sizeof expr, kOwner, "project");
  info.project_id = Attr(First(ctx.get(), root, expr), "uuid");
  std::snprintf(expr, sizeof expr, kOwner, "user");
  info.user_id = Attr(First(ctx.get(), root, expr), "uuid");
  for (xmlNode* d : Select(ctx.get(), root, "./devices/disk")) {
    DomainDisk disk;
    disk.device = Attr(d, "device");
    disk.target = Attr(First(ctx.get(), d, "./target"), "dev");
    disk.format = Attr(First(ctx.get(), d, "./driver"), "type");
    disk.error_policy = Attr(First(ctx.get(), d, "./driver"), "error_policy");
    disk.rerror_policy = Attr(First(ctx.get(), d, "./driver"), "rerror_policy");
    disk.source = SourcePath(ctx.get(), d);
    if (Attr(First(ctx.get(), d, "./source"), "protocol") == "nbd")
      disk.nbd_socket = Attr(
          First(ctx.get(), d, "./source/host[@transport='unix']"), "socket");
    disk.serial = Text(First(ctx.get(), d, "./serial"));
    // <backingStore> nests: each one's child is the next layer down.
    xmlNode* bs = First(ctx.get(), d, "./backingStore");
    while (bs && bs->children) {
      std::string p = LayerPath(ctx.get(), bs);
      if (p.empty()) break;
      disk.backing_chain.push_back(p);
      bs = First(ctx.get(), bs, "./backingStore");
    }
    info.disks.push_back(std::move(disk));
  }
  return info;
}

Result<std::string> WithDiskBackingChain(
    const std::string& xml, const std::string& target,
    const std::vector<BackingFile>& chain,
    const std::optional<DiskErrorPolicy>& policy) {
  STRATA_ASSIGN_OR_RETURN(ParsedXml parsed, ParseXml(xml));
  Doc& doc = parsed.doc;
  Ctx& ctx = parsed.ctx;
  xmlNode* root = xmlDocGetRootElement(doc.get());
  xmlNode* disk = nullptr;
  if (root)
    for (xmlNode* d : Select(ctx.get(), root, "./devices/disk"))
      if (Attr(First(ctx.get(), d, "./target"), "dev") == target) disk = d;
  if (!disk) return Status::NotFound("the domain has no disk " + target);
  for (xmlNode* old : Select(ctx.get(), disk, "./backingStore")) {
    xmlUnlinkNode(old);
    xmlFreeNode(old);
  }
  auto name = [](const char* n) { return reinterpret_cast<const xmlChar*>(n); };
  if (policy) {
    xmlNode* driver = First(ctx.get(), disk, "./driver");
    if (!driver) {
      driver = xmlNewNode(nullptr, name("driver"));
      if (disk->children)
        xmlAddPrevSibling(disk->children, driver);
      else
        xmlAddChild(disk, driver);
    }
    for (auto [attr, value] : {std::pair{"error_policy", &policy->write},
                               std::pair{"rerror_policy", &policy->read}}) {
      if (value->empty())
        xmlUnsetProp(driver, name(attr));
      else
        xmlSetProp(driver, name(attr), name(value->c_str()));
    }
  }
  if (!chain.empty()) {
    // Inserted after <source>, where libvirt writes it.
    xmlNode* source = First(ctx.get(), disk, "./source");
    xmlNode* outer = xmlNewNode(nullptr, name("backingStore"));
    if (source)
      xmlAddNextSibling(source, outer);
    else
      xmlAddChild(disk, outer);
    xmlNode* at = outer;
    for (const BackingFile& f : chain) {
      const bool nbd = !f.nbd_socket.empty();
      xmlSetProp(at, name("type"), name(nbd ? "network" : "file"));
      xmlSetProp(xmlNewChild(at, nullptr, name("format"), nullptr),
                 name("type"), name(f.format.c_str()));
      xmlNode* src = xmlNewChild(at, nullptr, name("source"), nullptr);
      if (nbd) {
        xmlSetProp(src, name("protocol"), name("nbd"));
        xmlSetProp(src, name("name"), name(f.nbd_export.c_str()));
        xmlNode* host = xmlNewChild(src, nullptr, name("host"), nullptr);
        xmlSetProp(host, name("transport"), name("unix"));
        xmlSetProp(host, name("socket"), name(f.nbd_socket.c_str()));
      } else {
        xmlSetProp(src, name("file"), name(f.path.c_str()));
      }
      at = xmlNewChild(at, nullptr, name("backingStore"), nullptr);
    }
  }
  xmlChar* out = nullptr;
  int len = 0;
  xmlDocDumpMemory(doc.get(), &out, &len);
  if (!out) return Status::Internal("domain XML does not serialize");
  std::string result(reinterpret_cast<char*>(out), static_cast<size_t>(len));
  xmlFree(out);
  return result;
}

}  // namespace strata::hypervisor
