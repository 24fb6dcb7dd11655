// Backend specs. See backend_spec.h.
#include "nbd/backend_spec.h"

#include "nbd/file_backend.h"
#include "nbd/nbd_client_backend.h"
#include "nbd/qcow_chain_backend.h"

namespace strata::nbd {

Result<std::shared_ptr<BlockBackend>> OpenBackend(const std::string& spec,
                                                  const BackendContext& ctx) {
  if (spec.rfind("qcow2:", 0) == 0) {
    STRATA_ASSIGN_OR_RETURN(
        auto b, QcowChainBackend::Open(spec.substr(6), ctx.runtime_dir,
                                       ctx.export_name));
    return std::shared_ptr<BlockBackend>(std::move(b));
  }
  if (spec.rfind("file:", 0) == 0 || spec.rfind("/", 0) == 0) {
    const std::string path = spec[0] == '/' ? spec : spec.substr(5);
    if (path.empty() || path[0] != '/')
      return Status::InvalidArgument("backend " + spec +
                                     ": the path must be absolute");
    STRATA_ASSIGN_OR_RETURN(auto b, FileBackend::Open(path));
    return std::shared_ptr<BlockBackend>(std::move(b));
  }
  const std::string unix_prefix = "nbd+unix:///";
  if (spec.rfind(unix_prefix, 0) == 0) {
    const std::string rest = spec.substr(unix_prefix.size());
    const size_t q = rest.find("?socket=");
    if (q == std::string::npos || q + 8 >= rest.size())
      return Status::InvalidArgument("backend " + spec +
                                     ": nbd+unix:///NAME?socket=/path");
    STRATA_ASSIGN_OR_RETURN(auto b, NbdClientBackend::ConnectUnix(
                                        rest.substr(q + 8), rest.substr(0, q)));
    return std::shared_ptr<BlockBackend>(std::move(b));
  }
  const std::string tcp_prefix = "nbd://";
  if (spec.rfind(tcp_prefix, 0) == 0) {
    const std::string rest = spec.substr(tcp_prefix.size());
    const size_t slash = rest.find('/');
    const std::string hostport = rest.substr(0, slash);
    const std::string name =
        slash == std::string::npos ? "" : rest.substr(slash + 1);
    const size_t colon = hostport.rfind(':');
    int port = 10809;
    if (colon != std::string::npos) {
      const std::string p = hostport.substr(colon + 1);
      if (p.empty() || p.size() > 5 ||
          p.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(p) < 1 || std::stoi(p) > 65535)
        return Status::InvalidArgument("backend " + spec + ": bad port");
      port = std::stoi(p);
    }
    const std::string host = hostport.substr(0, colon);
    if (host.empty())
      return Status::InvalidArgument("backend " + spec + ": no host");
    STRATA_ASSIGN_OR_RETURN(auto b,
                            NbdClientBackend::ConnectTcp(host, port, name));
    return std::shared_ptr<BlockBackend>(std::move(b));
  }
  return Status::InvalidArgument(
      "backend '" + spec +
      "': use file:/path, qcow2:/path, nbd+unix:///NAME?socket=/path or "
      "nbd://HOST:PORT/NAME");
}

Status SplitExportDefinition(const std::string& def, std::string* name,
                             std::string* spec) {
  const size_t eq = def.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == def.size())
    return Status::InvalidArgument("NBD export '" + def +
                                   "': write it NAME=BACKEND");
  *name = def.substr(0, eq);
  *spec = def.substr(eq + 1);
  return Status::OK();
}

}  // namespace strata::nbd
