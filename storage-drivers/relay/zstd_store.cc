// zstd relay stage. See zstd_store.h.
#include "storage-drivers/relay/zstd_store.h"

#include <zstd.h>

#include <vector>

#include "storage-drivers/store_wrapper.h"

namespace strata::store {
namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// Reads plaintext from `in`, yields one zstd frame.
class CompressingSource : public ByteSource {
 public:
  CompressingSource(ByteSource* in, int level)
      : in_(in), cctx_(ZSTD_createCCtx()), buf_(kChunkSize) {
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_checksumFlag, 1);
  }

  Result<size_t> Read(char* out, size_t n) override {
    if (!cctx_) return Status::Internal("zstd: cannot allocate a context");
    ZSTD_outBuffer o{out, n, 0};
    while (o.pos == 0 && !done_) {
      if (pos_ == len_ && !eof_) {
        STRATA_ASSIGN_OR_RETURN(len_, in_->Read(buf_.data(), buf_.size()));
        pos_ = 0;
        eof_ = len_ == 0;
      }
      ZSTD_inBuffer i{buf_.data(), len_, pos_};
      size_t left = ZSTD_compressStream2(cctx_.get(), &o, &i,
                                         eof_ ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(left))
        return Status::Internal(std::string("zstd: ") +
                                ZSTD_getErrorName(left));
      pos_ = i.pos;
      done_ = eof_ && left == 0;
    }
    return o.pos;
  }

 private:
  ByteSource* in_;
  std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx_;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0;
  bool eof_ = false, done_ = false;
};

// Takes a zstd frame, writes the plaintext to `out`.
class DecompressingSink : public ByteSink {
 public:
  explicit DecompressingSink(ByteSink* out)
      : out_(out), dctx_(ZSTD_createDCtx()), buf_(ZSTD_DStreamOutSize()) {}

  Status Write(const char* data, size_t n) override {
    if (!dctx_) return Status::Internal("zstd: cannot allocate a context");
    if (frame_done_ && n > 0)
      return Status::Corruption("zstd: bytes after the end of the frame");
    ZSTD_inBuffer i{data, n, 0};
    for (;;) {
      ZSTD_outBuffer o{buf_.data(), buf_.size(), 0};
      size_t r = ZSTD_decompressStream(dctx_.get(), &o, &i);
      if (ZSTD_isError(r))
        return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(r));
      if (o.pos > 0) STRATA_RETURN_IF_ERROR(out_->Write(buf_.data(), o.pos));
      if (r == 0) frame_done_ = true;
      // Done with this input once it is consumed and no output is pending.
      if (i.pos == i.size && o.pos < o.size) break;
      if (frame_done_ && i.pos < i.size)
        return Status::Corruption("zstd: bytes after the end of the frame");
    }
    return Status::OK();
  }

  // Corruption unless a whole frame arrived.
  Status Finish() const {
    if (!frame_done_)
      return Status::Corruption("zstd: the object ends inside its frame");
    return Status::OK();
  }

 private:
  ByteSink* out_;
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx_;
  std::vector<char> buf_;
  bool frame_done_ = false;
};

class ZstdStore : public StoreWrapper {
 public:
  ZstdStore(std::unique_ptr<Store> next, int level)
      : StoreWrapper(std::move(next)), level_(level) {}

  Result<ObjectInfo> Put(const std::string& key, ByteSource& src,
                         const RequestOptions& opts) override {
    const bool outermost = IsOutermostStage(opts);
    HashingSource plain(&src);
    CompressingSource zsrc(outermost ? &plain : &src, level_);
    auto info = next().Put(key, zsrc, WithRelayStage(opts, "zstd"));
    if (info.ok() && outermost) info->content_sha256 = plain.HexDigest();
    return info;
  }

  Status Get(const std::string& key, ByteSink& sink,
             const std::string& expected_sha256,
             const RequestOptions& opts) override {
    DecompressingSink zsink(&sink);
    STRATA_RETURN_IF_ERROR(next().Get(key, zsink, expected_sha256, opts));
    return zsink.Finish().WithContext("get " + key);
  }

 private:
  int level_;
};

}  // namespace

std::unique_ptr<Store> MakeZstdStore(std::unique_ptr<Store> next, int level) {
  return std::make_unique<ZstdStore>(std::move(next), level);
}

}  // namespace strata::store
