// http/keystone_client: the parts that read Keystone's answers without a
// Keystone — the v3 URL, token times, and picking an endpoint from a
// token's catalog (the swift store's object-store endpoint, issue 23). The
// requests themselves run against Debian's keystone in the store contract
// suite (SwiftKeystoneFixture, SwiftTokenFixture).
#include "http/keystone_client.h"

#include <doctest/doctest.h>

using strata::StatusCode;
using strata::http::CatalogEndpoint;
using strata::http::KeystoneToken;
using strata::http::KeystoneV3Url;
using strata::http::ParseKeystoneTime;

namespace {

KeystoneToken TokenWith(const char* catalog) {
  KeystoneToken t;
  t.body = nlohmann::json::parse(std::string("{\"catalog\": ") + catalog + "}");
  return t;
}

const char kCatalog[] = R"([
  {"type": "identity", "name": "keystone", "endpoints": [
    {"interface": "public", "region_id": "RegionOne", "url": "http://k:5000/v3"}]},
  {"type": "object-store", "name": "swift", "endpoints": [
    {"interface": "admin", "region_id": "RegionOne", "url": "http://s1:8080/v1"},
    {"interface": "public", "region_id": "RegionOne", "url": "http://s1:8080/v1/AUTH_p"},
    {"interface": "public", "region_id": "RegionTwo", "url": "http://s2:8080/v1/AUTH_p"},
    {"interface": "internal", "region": "RegionTwo", "url": "http://s2i:8080/v1/AUTH_p"}]}
])";

}  // namespace

TEST_CASE("Keystone's v3 URL") {
  CHECK(KeystoneV3Url("http://k:5000") == "http://k:5000/v3");
  CHECK(KeystoneV3Url("http://k:5000/") == "http://k:5000/v3");
  CHECK(KeystoneV3Url("http://k:5000/v3") == "http://k:5000/v3");
  CHECK(KeystoneV3Url("http://k:5000/v3//") == "http://k:5000/v3");
  CHECK(KeystoneV3Url("http://k/identity") == "http://k/identity/v3");
}

TEST_CASE("Keystone's times") {
  auto t = ParseKeystoneTime("2026-11-22T09:00:00.000000Z");
  REQUIRE(t.has_value());
  CHECK(std::chrono::system_clock::to_time_t(*t) == 1795338000);
  CHECK_FALSE(ParseKeystoneTime("tomorrow").has_value());
}

TEST_CASE("an endpoint from a token's catalog") {
  const KeystoneToken t = TokenWith(kCatalog);
  // The first of the type and interface, in any region, or in the one asked.
  CHECK(*CatalogEndpoint(t, "object-store", "public", "") ==
        "http://s1:8080/v1/AUTH_p");
  CHECK(*CatalogEndpoint(t, "object-store", "public", "RegionTwo") ==
        "http://s2:8080/v1/AUTH_p");
  CHECK(*CatalogEndpoint(t, "object-store", "admin", "") ==
        "http://s1:8080/v1");
  // Keystone v3 names the region "region_id"; older answers "region".
  CHECK(*CatalogEndpoint(t, "object-store", "internal", "RegionTwo") ==
        "http://s2i:8080/v1/AUTH_p");
  // None: NotFound, naming what the catalog has.
  auto none = CatalogEndpoint(t, "object-store", "internal", "RegionOne");
  CHECK(none.status().code() == StatusCode::kNotFound);
  CHECK(none.status().message().find("object-store/public@RegionTwo") !=
        std::string::npos);
  CHECK(CatalogEndpoint(t, "volumev3", "public", "").status().code() ==
        StatusCode::kNotFound);
  // A token without a catalog (issued with ?nocatalog) has none.
  KeystoneToken bare;
  bare.body = nlohmann::json::object();
  auto missing = CatalogEndpoint(bare, "object-store", "public", "");
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message().find("nothing") != std::string::npos);
  // A catalog of the wrong shape is no catalog.
  CHECK(CatalogEndpoint(TokenWith(R"({"object-store": 1})"), "object-store",
                        "public", "")
            .status()
            .code() == StatusCode::kNotFound);
}
