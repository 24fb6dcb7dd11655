// Catalog: SQL for the volume_type_encryption table (migration 15). See
// catalog.h.
// Thread-safety: every method holds mu_ (Catalog's contract).
#include "db/catalog.h"

namespace strata::db {
namespace {

const char kColumns[] =
    "volume_type_id, encryption_id, provider, control_location, cipher, "
    "key_size, created_at, updated_at";

}  // namespace

Result<std::optional<EncryptionTypeRecord>> Catalog::GetEncryptionType(
    const std::string& volume_type_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string("SELECT ") + kColumns +
                                  " FROM volume_type_encryption WHERE "
                                  "volume_type_id=?"));
  st.Bind(1, volume_type_id);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<EncryptionTypeRecord>();
  EncryptionTypeRecord e;
  e.volume_type_id = st.ColumnText(0);
  e.encryption_id = st.ColumnText(1);
  e.provider = st.ColumnText(2);
  e.control_location = st.ColumnText(3);
  e.cipher = st.ColumnOptText(4);
  if (auto k = st.ColumnOptText(5)) e.key_size = st.ColumnInt(5);
  e.created_at = st.ColumnInt(6);
  e.updated_at = st.ColumnInt(7);
  return std::optional<EncryptionTypeRecord>(e);
}

Status Catalog::PutEncryptionType(const EncryptionTypeRecord& e) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string("INSERT OR REPLACE INTO "
                                          "volume_type_encryption (") +
                                  kColumns + ") VALUES (?,?,?,?,?,?,?,?)"));
  st.Bind(1, e.volume_type_id)
      .Bind(2, e.encryption_id)
      .Bind(3, e.provider)
      .Bind(4, e.control_location)
      .BindOpt(5, e.cipher)
      .BindOpt(6, e.key_size)
      .Bind(7, e.created_at)
      .Bind(8, e.updated_at);
  return st.Run();
}

Status Catalog::DeleteEncryptionType(const std::string& volume_type_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_, "DELETE FROM volume_type_encryption WHERE volume_type_id=?"));
  st.Bind(1, volume_type_id);
  return st.RunUpdate("Volume type encryption for type " + volume_type_id +
                      " does not exist.");
}

}  // namespace strata::db
