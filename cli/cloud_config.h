// Where the `strata` CLI finds Strata and who it is there, as
// openstackclient decides it: command-line options win over OS_*
// environment variables, which win over a clouds.yaml entry (--os-cloud or
// OS_CLOUD; in $OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
// ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml: the first
// that has it).
//
// Thread-safety: plain values and functions.
#pragma once

#include <map>
#include <string>

#include "util/status.h"

namespace strata::cli {

struct CloudConfig {
  std::string auth_url;  // Keystone v3; "" with a token and an endpoint
  std::string username, password, project_name;
  std::string user_domain_name = "Default", project_domain_name = "Default";
  std::string region_name, interface = "public";
  // Strata's volume API root (…/v3 or …/v3/<project>): skips the catalog.
  std::string endpoint;
  std::string token;  // a token to use as it is (noauth: "project:user")
};

// Options given as --os-<name> (name with '-' as in --os-auth-url) win;
// then OS_<NAME> from `env`; then the clouds.yaml entry named by
// --os-cloud or OS_CLOUD, if any. InvalidArgument for a named cloud that
// no clouds.yaml has, or a file that does not parse.
[[nodiscard]] Result<CloudConfig> LoadCloudConfig(
    const std::map<std::string, std::string>& options,
    const std::map<std::string, std::string>& env);

}  // namespace strata::cli
