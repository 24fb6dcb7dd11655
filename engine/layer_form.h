// LayerForm: the two forms a snapshot layer is stored in (issue 17), and the
// streams that write and read them.
//   - plain: the layer's qcow2 file as it is;
//   - sparse: the file as a stream of its data extents (util/sparse_stream.h),
//     for a file that is mostly holes (an overlay with qcow2 subclusters
//     after small writes: each cluster's unwritten rest is a hole).
// A layer is stored sparse when holes make up at least an eighth of its
// file; a dense file (a full first layer, large writes) stays plain, so the
// local store can still hard-link it into a chain. A reader tells the forms
// apart by the stream's first bytes (a qcow2 file starts with "QFI\xfb"),
// so layers stored before the sparse form existed read as they always did.
// The layer's digest (R1.3) is the SHA-256 of the stored stream, whichever
// the form.
// Thread-safety: single-owner streams.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "util/byte_stream.h"
#include "util/sha256.h"
#include "util/sparse_stream.h"
#include "util/status.h"

namespace strata::engine {

// The layer file at `path` as the stream to store, in the form it is to be
// stored in.
class LayerSource : public ByteSource {
 public:
  static Result<std::unique_ptr<LayerSource>> Open(const std::string& path);
  Result<size_t> Read(char* buf, size_t n) override {
    return inner_->Read(buf, n);
  }
  uint64_t size() const { return size_; }  // bytes of the stream
  bool sparse() const { return sparse_; }

 private:
  LayerSource(std::unique_ptr<ByteSource> inner, uint64_t size, bool sparse)
      : inner_(std::move(inner)), size_(size), sparse_(sparse) {}
  std::unique_ptr<ByteSource> inner_;
  uint64_t size_;
  bool sparse_;
};

// Writes a stored layer's stream into `file` as the layer file: a plain one
// as it comes, a sparse one decoded. With `expected_sha256`, the stream must
// have that digest (Finish: Corruption otherwise).
class LayerFileSink : public ByteSink {
 public:
  LayerFileSink(FileSink* file, const std::string& expected_sha256);
  Status Write(const char* buf, size_t n) override;
  // After the last Write: the stream was whole and had its digest.
  [[nodiscard]] Status Finish();

 private:
  Status Start();  // decides the form from prefix_
  FileSink* file_;
  std::string expected_;
  std::unique_ptr<BackgroundSha256> hash_;
  std::string prefix_;  // the first bytes, until the form is known
  bool started_ = false;
  std::optional<SparseDecoder> decoder_;  // the sparse form
};

}  // namespace strata::engine
