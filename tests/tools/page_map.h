// A migration stream kept in memory (issue 21's tests): the StreamVisitor
// that tests/unit/migration_stream_test.cc checks the parser with and that
// tests/tools/memstream_rebuild.cc rebuilds streams from, independently of
// the region. The last version of each page is kept; a zero page as its
// one fill byte (a 256 MiB guest's zero pages would take 200 MB expanded).
#pragma once

#include <map>
#include <string>
#include <utility>

#include "memsnap/migration_stream.h"

namespace strata::memsnap {

struct PageMap : StreamVisitor {
  std::string prologue, machine, devices;
  RamSection ram;
  // (block, offset) -> the page's 4096 bytes, or a zero page's fill byte.
  std::map<std::pair<size_t, uint64_t>, std::string> pages;
  bool ended = false;

  // A page's bytes, a zero page expanded.
  std::string Bytes(size_t block, uint64_t offset) const {
    const std::string& p = pages.at({block, offset});
    return p.size() == 1 ? std::string(kPageSize, p[0]) : p;
  }

  Status OnPrologue(std::string_view b, const std::string& m) override {
    prologue = b;
    machine = m;
    return Status::OK();
  }
  Status OnRamSetup(const RamSection& r) override {
    ram = r;
    return Status::OK();
  }
  Status OnZeroPage(size_t b, uint64_t o, uint8_t fill) override {
    pages[{b, o}] = std::string(1, static_cast<char>(fill));
    return Status::OK();
  }
  Status OnPage(size_t b, uint64_t o, const char* data) override {
    pages[{b, o}] = std::string(data, kPageSize);
    return Status::OK();
  }
  Status OnRamEnd() override {
    ended = true;
    return Status::OK();
  }
  Status OnDeviceState(std::string_view b) override {
    devices += b;
    return Status::OK();
  }
};

}  // namespace strata::memsnap
