// SQLite RAII wrappers. See sqlite.h.
#include "db/sqlite.h"

namespace strata::db {

Result<SqliteDb> SqliteDb::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
      nullptr);
  SqliteDb db(raw);  // owns raw even on failure
  if (rc != SQLITE_OK)
    return Status::IoError("cannot open catalog " + path + ": " +
                           (raw ? sqlite3_errmsg(raw) : "out of memory"));
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

SqliteDb::~SqliteDb() {
  if (db_) sqlite3_close_v2(db_);
}

Status SqliteDb::ErrorStatus(int rc, const std::string& what) const {
  std::string msg = what + ": " + sqlite3_errmsg(db_);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    return Status::Unavailable(msg);
  if (primary == SQLITE_CONSTRAINT) return Status::Conflict(msg);
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
    return Status::Corruption(msg);
  return Status::IoError(msg);
}

Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    Status s = ErrorStatus(rc, "sql");
    return Status::IoError("sql: " + msg).SetRetryable(s.retryable());
  }
  return Status::OK();
}

Result<Statement> Statement::Prepare(const SqliteDb& db,
                                     const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &s, nullptr);
  if (rc != SQLITE_OK) return db.ErrorStatus(rc, "prepare");
  return Statement(&db, s);
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::Bind(int idx, const std::string& v) {
  int rc = sqlite3_bind_text(stmt_, idx, v.data(), static_cast<int>(v.size()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::Bind(int idx, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, idx, v);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::BindNull(int idx) {
  int rc = sqlite3_bind_null(stmt_, idx);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::BindOpt(int idx, const std::optional<std::string>& v) {
  return v ? Bind(idx, *v) : BindNull(idx);
}

Statement& Statement::BindOpt(int idx, const std::optional<int64_t>& v) {
  return v ? Bind(idx, *v) : BindNull(idx);
}

Result<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) return db_->ErrorStatus(bind_rc_, "bind");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->ErrorStatus(rc, "step");
}

Status Statement::Run() {
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::OK();
  }
}

Status Statement::RunUpdate(const std::string& not_found) {
  STRATA_RETURN_IF_ERROR(Run());
  if (sqlite3_changes(db_->get()) == 0) return Status::NotFound(not_found);
  return Status::OK();
}

std::string Statement::ColumnText(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_, col);
  return t ? std::string(reinterpret_cast<const char*>(t),
                         sqlite3_column_bytes(stmt_, col))
           : std::string();
}

std::optional<std::string> Statement::ColumnOptText(int col) const {
  if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
  return ColumnText(col);
}

int64_t Statement::ColumnInt(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

std::optional<int64_t> Statement::ColumnOptInt(int col) const {
  if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
  return ColumnInt(col);
}

}  // namespace strata::db
