// Unit tests for api/extra_specs_match.h (issue 18): Cinder's
// CapabilitiesFilter over a type's extra specs, with the operators of
// Cinder's extra_specs_ops, against capabilities shaped like the pool's.
#include <doctest/doctest.h>

#include "api/extra_specs_match.h"

namespace strata::api {
namespace {

const nlohmann::json kCaps = {{"vendor_name", "Strata"},
                              {"storage_protocol", "qcow2"},
                              {"volume_backend_name", "strata"},
                              {"driver_version", "1.0"},
                              {"free_capacity_gb", 40.5},
                              {"thin_provisioning_support", true},
                              {"multiattach", false},
                              {"nested", {{"level", "3"}}}};

bool Ok(const db::Metadata& specs) {
  std::string why;
  return SatisfiesExtraSpecs(kCaps, specs, &why);
}

TEST_CASE("plain values match equal capabilities; booleans by their words") {
  CHECK(Ok({}));
  CHECK(Ok({{"vendor_name", "Strata"}, {"storage_protocol", "qcow2"}}));
  CHECK_FALSE(Ok({{"vendor_name", "Open Source"}}));
  CHECK(Ok({{"thin_provisioning_support", "True"}}));
  CHECK_FALSE(Ok({{"multiattach", "True"}}));
  CHECK(Ok({{"multiattach", "False"}}));
  // A number is compared only through an operator, as in Cinder.
  CHECK_FALSE(Ok({{"free_capacity_gb", "40.5"}}));
}

TEST_CASE("scopes: other namespaces pass, capabilities: is looked up") {
  CHECK(Ok({{"RESKEY:availability_zones", "elsewhere"}, {"hw:cpu", "x"}}));
  CHECK(Ok({{"capabilities:vendor_name", "Strata"}}));
  CHECK_FALSE(Ok({{"capabilities:vendor_name", "Other"}}));
  CHECK(Ok({{"capabilities:nested:level", "3"}}));
  std::string why;
  CHECK_FALSE(SatisfiesExtraSpecs(kCaps, {{"no_such_cap", "x"}}, &why));
  CHECK(why.find("no_such_cap") != std::string::npos);
}

TEST_CASE("Cinder's operators") {
  CHECK(Ok({{"thin_provisioning_support", "<is> True"}}));
  CHECK_FALSE(Ok({{"thin_provisioning_support", "<is> False"}}));
  CHECK(Ok({{"storage_protocol", "<in> qcow"}}));
  CHECK_FALSE(Ok({{"storage_protocol", "<in> iSCSI"}}));
  CHECK(Ok({{"storage_protocol", "<or> iSCSI <or> qcow2"}}));
  CHECK_FALSE(Ok({{"storage_protocol", "<or> iSCSI <or> FC"}}));
  CHECK(Ok({{"free_capacity_gb", "= 40"}}));
  CHECK_FALSE(Ok({{"free_capacity_gb", "= 41"}}));
  CHECK(Ok({{"free_capacity_gb", ">= 40.5"}}));
  CHECK(Ok({{"free_capacity_gb", "<= 41"}}));
  CHECK(Ok({{"free_capacity_gb", "== 40.5"}}));
  CHECK(Ok({{"free_capacity_gb", "!= 7"}}));
  CHECK_FALSE(Ok({{"vendor_name", "== 3"}}));  // not a number
  CHECK(Ok({{"vendor_name", "s== Strata"}}));
  CHECK(Ok({{"vendor_name", "s!= Other"}}));
  CHECK(Ok({{"vendor_name", "s< Tzz"}}));
  CHECK(Ok({{"vendor_name", "s>= Strata"}}));
  CHECK_FALSE(Ok({{"vendor_name", "s> Strata"}}));
  CHECK_FALSE(Ok({{"vendor_name", "s=="}}));  // an operator with no value
}

}  // namespace
}  // namespace strata::api
