// openstackclient's precedence of options, environment and clouds.yaml.
// See cloud_config.h.
#include "cli/cloud_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>

namespace strata::cli {
namespace {

// The cloud settings' names, as OS_<NAME>, --os-<name> and clouds.yaml's
// keys (under auth: for the first ones) spell them.
struct Key {
  const char* name;  // "auth_url"
  bool in_auth;      // clouds.yaml keeps it under "auth"
  std::string CloudConfig::*field;
};
const Key kKeys[] = {
    {"auth_url", true, &CloudConfig::auth_url},
    {"username", true, &CloudConfig::username},
    {"password", true, &CloudConfig::password},
    {"project_name", true, &CloudConfig::project_name},
    {"user_domain_name", true, &CloudConfig::user_domain_name},
    {"project_domain_name", true, &CloudConfig::project_domain_name},
    {"token", true, &CloudConfig::token},
    {"region_name", false, &CloudConfig::region_name},
    {"interface", false, &CloudConfig::interface},
    {"endpoint", false, &CloudConfig::endpoint},
};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(c));
  return s;
}

std::string Dashed(std::string s) {
  for (char& c : s)
    if (c == '_') c = '-';
  return s;
}

std::string Lookup(const std::map<std::string, std::string>& m,
                   const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? "" : it->second;
}

Status ApplyClouds(const std::string& cloud, const std::string& config_file,
                   CloudConfig* c) {
  std::vector<std::string> paths;
  if (!config_file.empty()) paths.push_back(config_file);
  paths.push_back("clouds.yaml");
  if (const char* home = std::getenv("HOME"))
    paths.push_back(std::string(home) + "/.config/openstack/clouds.yaml");
  paths.push_back("/etc/openstack/clouds.yaml");
  for (const auto& path : paths) {
    if (!std::ifstream(path).good()) continue;
    YAML::Node root;
    try {
      root = YAML::LoadFile(path);
    } catch (const std::exception& e) {
      return Status::InvalidArgument(path + " does not parse: " + e.what());
    }
    YAML::Node entry = root["clouds"][cloud];
    if (!entry || !entry.IsMap()) continue;
    try {
      for (const Key& k : kKeys) {
        YAML::Node v = k.in_auth ? entry["auth"][k.name] : entry[k.name];
        if (v && v.IsScalar()) c->*k.field = v.as<std::string>();
      }
      // openstacksdk's spellings of the same.
      if (YAML::Node v = entry["auth"]["project_id"]; v && v.IsScalar())
        c->project_name =
            c->project_name.empty() ? v.as<std::string>() : c->project_name;
    } catch (const std::exception& e) {
      return Status::InvalidArgument(path + ": cloud " + cloud + ": " +
                                     e.what());
    }
    return Status::OK();
  }
  return Status::InvalidArgument("cloud " + cloud +
                                 " was not found in any clouds.yaml");
}

}  // namespace

Result<CloudConfig> LoadCloudConfig(
    const std::map<std::string, std::string>& options,
    const std::map<std::string, std::string>& env) {
  CloudConfig c;
  std::string cloud = Lookup(options, "cloud");
  if (cloud.empty()) cloud = Lookup(env, "OS_CLOUD");
  if (!cloud.empty())
    STRATA_RETURN_IF_ERROR(
        ApplyClouds(cloud, Lookup(env, "OS_CLIENT_CONFIG_FILE"), &c));
  for (const Key& k : kKeys) {
    // OS_AUTH_URL, OS_ENDPOINT (also STRATA_URL), OS_REGION_NAME, …
    std::string v = Lookup(env, "OS_" + Upper(k.name));
    if (std::string(k.name) == "endpoint" && v.empty())
      v = Lookup(env, "STRATA_URL");
    if (!v.empty()) c.*k.field = v;
    v = Lookup(options, Dashed(k.name));
    if (!v.empty()) c.*k.field = v;
  }
  return c;
}

}  // namespace strata::cli
