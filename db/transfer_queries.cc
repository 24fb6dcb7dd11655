// Catalog: SQL for the volume_transfers table (migration 10) and the
// ownership change an accepted transfer makes. See catalog.h.
// Thread-safety: every method holds mu_ (Catalog's contract).
#include "db/catalog.h"
#include "util/time_util.h"

namespace strata::db {
namespace {

const char kColumns[] =
    "id, volume_id, project_id, name, salt, key_hash, no_snapshots, "
    "created_at";

TransferRecord ReadTransfer(const Statement& st) {
  TransferRecord t;
  t.id = st.ColumnText(0);
  t.volume_id = st.ColumnText(1);
  t.project_id = st.ColumnText(2);
  t.name = st.ColumnOptText(3);
  t.salt = st.ColumnText(4);
  t.key_hash = st.ColumnText(5);
  t.no_snapshots = st.ColumnInt(6) != 0;
  t.created_at = st.ColumnInt(7);
  return t;
}

// The volume's status, checked and changed in the caller's transaction.
Status MoveVolumeStatus(SqliteDb& db, const std::string& volume_id,
                        const std::string& from, const std::string& to) {
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db,
                         "UPDATE volumes SET status=?, updated_at=? "
                         "WHERE id=? AND status=?"));
  st.Bind(1, to).Bind(2, NowMicros()).Bind(3, volume_id).Bind(4, from);
  Status s = st.RunUpdate("");
  if (s.code() == StatusCode::kNotFound)
    return Status::InvalidArgument("Invalid volume: Volume " + volume_id +
                                   " status must be " + from + ".");
  return s;
}

}  // namespace

Status Catalog::OfferVolume(const TransferRecord& t) {
  return Transaction([&]() -> Status {
    STRATA_RETURN_IF_ERROR(
        MoveVolumeStatus(db_, t.volume_id, "available", "awaiting-transfer"));
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(db_, std::string("INSERT INTO volume_transfers (") +
                                    kColumns + ") VALUES (?,?,?,?,?,?,?,?)"));
    st.Bind(1, t.id)
        .Bind(2, t.volume_id)
        .Bind(3, t.project_id)
        .BindOpt(4, t.name)
        .Bind(5, t.salt)
        .Bind(6, t.key_hash)
        .Bind(7, static_cast<int64_t>(t.no_snapshots))
        .Bind(8, t.created_at);
    return st.Run();
  });
}

Result<TransferRecord> Catalog::GetTransfer(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string("SELECT ") + kColumns +
                                  " FROM volume_transfers WHERE id=?"));
  st.Bind(1, id);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("Transfer " + id + " could not be found.");
  return ReadTransfer(st);
}

Result<std::vector<TransferRecord>> Catalog::ListTransfers(
    const std::string& project_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  std::string sql = std::string("SELECT ") + kColumns +
                    " FROM volume_transfers" +
                    (project_id.empty() ? "" : " WHERE project_id=?") +
                    " ORDER BY created_at DESC, id DESC";
  STRATA_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db_, sql));
  if (!project_id.empty()) st.Bind(1, project_id);
  std::vector<TransferRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(ReadTransfer(st));
  }
}

Status Catalog::CancelTransfer(const std::string& id) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(TransferRecord t, GetTransfer(id));
    STRATA_ASSIGN_OR_RETURN(
        Statement del,
        Statement::Prepare(db_, "DELETE FROM volume_transfers WHERE id=?"));
    del.Bind(1, id);
    STRATA_RETURN_IF_ERROR(del.Run());
    // A volume an admin reset meanwhile keeps the status it was given.
    Status moved =
        MoveVolumeStatus(db_, t.volume_id, "awaiting-transfer", "available");
    return moved.code() == StatusCode::kInvalidArgument ? Status::OK() : moved;
  });
}

Status Catalog::AcceptTransfer(const std::string& id,
                               const std::string& project_id,
                               const std::string& user_id) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(TransferRecord t, GetTransfer(id));
    STRATA_RETURN_IF_ERROR(
        MoveVolumeStatus(db_, t.volume_id, "awaiting-transfer", "available"));
    STRATA_ASSIGN_OR_RETURN(
        Statement vol, Statement::Prepare(db_,
                                          "UPDATE volumes SET project_id=?, "
                                          "user_id=? WHERE id=?"));
    vol.Bind(1, project_id).Bind(2, user_id).Bind(3, t.volume_id);
    STRATA_RETURN_IF_ERROR(vol.Run());
    if (!t.no_snapshots) {
      STRATA_ASSIGN_OR_RETURN(
          Statement snaps,
          Statement::Prepare(db_,
                             "UPDATE snapshots SET project_id=?, user_id=? "
                             "WHERE volume_id=?"));
      snaps.Bind(1, project_id).Bind(2, user_id).Bind(3, t.volume_id);
      STRATA_RETURN_IF_ERROR(snaps.Run());
    }
    STRATA_ASSIGN_OR_RETURN(
        Statement del,
        Statement::Prepare(db_, "DELETE FROM volume_transfers WHERE id=?"));
    del.Bind(1, id);
    return del.Run();
  });
}

}  // namespace strata::db
