// Tests for util/open_beneath's directory-fd operations (issue 16, item 1)
// and util/status's one errno mapping (item 3): a directory swapped for a
// symlink fails a rename, remove or link instead of redirecting it, and
// errno values map to codes in one place.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "temp_dir.h"
#include "util/fs.h"
#include "util/open_beneath.h"
#include "util/status.h"

namespace strata {
namespace {

using testing::TempDir;

void Write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_CASE("NoSymlinks operations work in a plain directory") {
  TempDir t;
  const std::string d = t.path + "/disks";
  REQUIRE(MakeDirs(d).ok());
  Write(d + "/a", "A");
  CHECK(RenameDurableNoSymlinks(d + "/a", d + "/b").ok());
  CHECK(Read(d + "/b") == "A");
  CHECK_FALSE(PathExists(d + "/a"));
  CHECK(LinkNoSymlinks(d + "/b", d + "/c").ok());
  CHECK(Read(d + "/c") == "A");
  CHECK(RemoveFileNoSymlinks(d + "/b").ok());
  CHECK_FALSE(PathExists(d + "/b"));
  CHECK(RemoveFileNoSymlinks(d + "/missing").ok());  // as RemoveFile
  REQUIRE(MakeDirs(t.path + "/other").ok());
  CHECK(RenameDurableNoSymlinks(d + "/c", t.path + "/other/c").ok());
  CHECK(Read(t.path + "/other/c") == "A");
}

TEST_CASE("a directory swapped for a symlink is refused, nothing moves") {
  TempDir t;
  const std::string real = t.path + "/real", evil = t.path + "/evil";
  REQUIRE(MakeDirs(real).ok());
  REQUIRE(MakeDirs(evil).ok());
  Write(evil + "/disk", "victim");
  Write(real + "/disk", "mine");
  const std::string dir = t.path + "/disks";  // the name a volume recorded
  REQUIRE(symlink(evil.c_str(), dir.c_str()) == 0);

  Status r = RenameDurableNoSymlinks(dir + "/disk", dir + "/disk.snap");
  CHECK(r.code() == StatusCode::kInvalidArgument);
  CHECK(r.message().find("symlink") != std::string::npos);
  CHECK(RemoveFileNoSymlinks(dir + "/disk").code() ==
        StatusCode::kInvalidArgument);
  CHECK(LinkNoSymlinks(real + "/disk", dir + "/x").code() ==
        StatusCode::kInvalidArgument);
  CHECK(Read(evil + "/disk") == "victim");
  CHECK_FALSE(PathExists(evil + "/disk.snap"));
  CHECK_FALSE(PathExists(evil + "/x"));
  // A symlink higher up the path is refused the same way.
  REQUIRE(MakeDirs(evil + "/sub").ok());
  Write(evil + "/sub/f", "deep");
  CHECK(RemoveFileNoSymlinks(dir + "/sub/f").code() ==
        StatusCode::kInvalidArgument);
  CHECK(Read(evil + "/sub/f") == "deep");
  CHECK(OpenDirNoSymlinks("relative/dir").status().code() ==
        StatusCode::kInvalidArgument);
  // Copies and opens: neither read from nor written through the symlink.
  CHECK(CopyFileSparseNoSymlinks(dir + "/disk", real + "/copy").code() ==
        StatusCode::kInvalidArgument);
  CHECK_FALSE(PathExists(real + "/copy"));
  CHECK(CopyFileSparseNoSymlinks(real + "/disk", dir + "/copy").code() ==
        StatusCode::kInvalidArgument);
  CHECK_FALSE(PathExists(evil + "/copy"));
  CHECK(OpenFileNoSymlinks(dir + "/disk", O_RDONLY).status().code() ==
        StatusCode::kInvalidArgument);
  REQUIRE(symlink((real + "/disk").c_str(), (real + "/link").c_str()) == 0);
  CHECK(OpenFileNoSymlinks(real + "/link", O_RDONLY).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(CopyFileSparseNoSymlinks(real + "/disk", real + "/copy").ok());
  CHECK(Read(real + "/copy") == "mine");
}

TEST_CASE("errno maps to a code once, for every caller") {
  CHECK(Status::FromErrno("open x", ENOENT).IsNotFound());
  CHECK(Status::FromErrno("open x", ENOTDIR).IsNotFound());
  CHECK(Status::FromErrno("mkdir x", EEXIST).code() ==
        StatusCode::kAlreadyExists);
  Status t = Status::FromErrno("connect", ETIMEDOUT);
  CHECK(t.code() == StatusCode::kUnavailable);
  CHECK(t.retryable());
  CHECK(Status::FromErrno("read", EIO).code() == StatusCode::kIoError);
  CHECK_FALSE(Status::FromErrno("read", EIO).retryable());
  CHECK(Status::FromErrno("open", EACCES).code() == StatusCode::kIoError);
  CHECK(Status::FromErrno("open x", ENOENT).message() ==
        "open x: No such file or directory");
}

}  // namespace
}  // namespace strata
