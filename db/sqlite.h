// RAII wrappers over the SQLite C API: a connection and a prepared statement.
//
// Only db/ includes this. Statement binds by 1-based index and steps; errors
// come back as Status values carrying sqlite3_errmsg. SQLITE_BUSY/LOCKED are
// marked retryable.
// Thread-safety: a SqliteDb is used under the owner's mutex (see Catalog);
// a Statement belongs to one thread at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

#include "util/status.h"

namespace strata::db {

class SqliteDb {
 public:
  static Result<SqliteDb> Open(const std::string& path);
  SqliteDb(SqliteDb&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  SqliteDb& operator=(SqliteDb&&) = delete;
  SqliteDb(const SqliteDb&) = delete;
  ~SqliteDb();

  sqlite3* get() const { return db_; }
  // Runs one or more statements with no results.
  Status Exec(const std::string& sql);
  Status ErrorStatus(int rc, const std::string& what) const;

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

class Statement {
 public:
  static Result<Statement> Prepare(const SqliteDb& db, const std::string& sql);
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) {
    o.stmt_ = nullptr;
  }
  Statement(const Statement&) = delete;
  ~Statement();

  Statement& Bind(int idx, const std::string& v);
  Statement& Bind(int idx, const char* v) { return Bind(idx, std::string(v)); }
  Statement& Bind(int idx, int64_t v);
  Statement& BindNull(int idx);
  Statement& BindOpt(int idx, const std::optional<std::string>& v);
  Statement& BindOpt(int idx, const std::optional<int64_t>& v);

  // True when a row is ready; false when done. Errors as Status.
  Result<bool> Step();
  // Steps to completion, expecting no rows.
  Status Run();
  // Run() for an UPDATE of one row by id: NotFound(`not_found`) when no row
  // changed.
  Status RunUpdate(const std::string& not_found);

  std::string ColumnText(int col) const;
  std::optional<std::string> ColumnOptText(int col) const;
  int64_t ColumnInt(int col) const;
  std::optional<int64_t> ColumnOptInt(int col) const;

 private:
  Statement(const SqliteDb* db, sqlite3_stmt* s) : db_(db), stmt_(s) {}
  const SqliteDb* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

}  // namespace strata::db
