// The stored forms of a layer. See layer_form.h.
#include "engine/layer_form.h"

#include <algorithm>

namespace strata::engine {

Result<std::unique_ptr<LayerSource>> LayerSource::Open(
    const std::string& path) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<SparseFileSource> sparse,
                          SparseFileSource::Open(path));
  const uint64_t file = sparse->file_size();
  const uint64_t holes = file - sparse->data_bytes();
  if (holes >= file / 8 && file > 0) {
    const uint64_t size = sparse->size();
    return std::unique_ptr<LayerSource>(
        new LayerSource(std::move(sparse), size, /*sparse=*/true));
  }
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<FileSource> plain,
                          FileSource::Open(path));
  const uint64_t size = plain->size();
  return std::unique_ptr<LayerSource>(
      new LayerSource(std::move(plain), size, /*sparse=*/false));
}

LayerFileSink::LayerFileSink(FileSink* file, const std::string& expected_sha256)
    : file_(file), expected_(expected_sha256) {
  if (!expected_.empty()) hash_ = std::make_unique<BackgroundSha256>();
}

Status LayerFileSink::Start() {
  started_ = true;
  if (prefix_.compare(0, kSparseMagic.size(), kSparseMagic) == 0)
    decoder_.emplace(file_);
  std::string head;
  head.swap(prefix_);
  return decoder_ ? decoder_->Write(head.data(), head.size())
                  : file_->Write(head.data(), head.size());
}

Status LayerFileSink::Write(const char* buf, size_t n) {
  if (hash_) hash_->Update(buf, n);
  if (!started_) {
    const size_t k = std::min(n, kSparseMagic.size() - prefix_.size());
    prefix_.append(buf, k);
    buf += k;
    n -= k;
    if (prefix_.size() < kSparseMagic.size()) return Status::OK();
    STRATA_RETURN_IF_ERROR(Start());
  }
  if (n == 0) return Status::OK();
  return decoder_ ? decoder_->Write(buf, n) : file_->Write(buf, n);
}

Status LayerFileSink::Finish() {
  if (!started_) STRATA_RETURN_IF_ERROR(Start());  // a stream under 16 bytes
  if (decoder_) STRATA_RETURN_IF_ERROR(decoder_->Finish());
  if (hash_) {
    std::string want = expected_;
    for (char& c : want) c = static_cast<char>(std::tolower(c));
    const std::string got = hash_->HexDigest();
    if (got != want)
      return Status::Corruption(file_->path() +
                                ": the layer's stream has "
                                "sha256 " +
                                got + ", expected " + expected_);
  }
  return Status::OK();
}

}  // namespace strata::engine
