// Catalog: SQL for the qos_specs table and volume types' qos_specs_id
// (migration 13). See catalog.h.
// Thread-safety: every method holds mu_ (Catalog's contract).
#include "db/catalog.h"
#include "db/list_paging.h"

namespace strata::db {
namespace {

const char kColumns[] = "id, name, consumer, specs, created_at";

QosSpecsRecord ReadQos(const Statement& st) {
  QosSpecsRecord q;
  q.id = st.ColumnText(0);
  q.name = st.ColumnText(1);
  q.consumer = st.ColumnText(2);
  q.specs = MetadataFromJson(st.ColumnText(3));
  q.created_at = st.ColumnInt(4);
  return q;
}

}  // namespace

Status Catalog::InsertQosSpecs(const QosSpecsRecord& q) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(
        Statement find,
        Statement::Prepare(db_, "SELECT 1 FROM qos_specs WHERE name=?"));
    find.Bind(1, q.name);
    STRATA_ASSIGN_OR_RETURN(bool taken, find.Step());
    if (taken)
      return Status::Conflict("QoS Specs " + q.name + " already exists.");
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(db_, std::string("INSERT INTO qos_specs (") +
                                    kColumns + ") VALUES (?,?,?,?,?)"));
    st.Bind(1, q.id)
        .Bind(2, q.name)
        .Bind(3, q.consumer)
        .Bind(4, MetadataToJson(q.specs))
        .Bind(5, q.created_at);
    return st.Run();
  });
}

Result<QosSpecsRecord> Catalog::GetQosSpecs(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st, Statement::Prepare(db_, std::string("SELECT ") + kColumns +
                                                " FROM qos_specs WHERE id=?"));
  st.Bind(1, id);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("QoS spec " + id + " could not be found.");
  return ReadQos(st);
}

Result<std::vector<QosSpecsRecord>> Catalog::ListQosSpecs() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string("SELECT ") + kColumns +
                                  " FROM qos_specs ORDER BY created_at, id"));
  std::vector<QosSpecsRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(ReadQos(st));
  }
}

Status Catalog::ModifyQosSpecs(
    const std::string& id, const std::function<Status(QosSpecsRecord&)>& edit) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(QosSpecsRecord q, GetQosSpecs(id));
    STRATA_RETURN_IF_ERROR(edit(q));
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(db_,
                           "UPDATE qos_specs SET consumer=?, specs=? WHERE "
                           "id=?"));
    st.Bind(1, q.consumer).Bind(2, MetadataToJson(q.specs)).Bind(3, id);
    return st.RunUpdate("QoS spec " + id + " could not be found.");
  });
}

Status Catalog::DeleteQosSpecs(const std::string& id) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(
        Statement unlink,
        Statement::Prepare(db_,
                           "UPDATE volume_types SET qos_specs_id=NULL WHERE "
                           "qos_specs_id=?"));
    unlink.Bind(1, id);
    STRATA_RETURN_IF_ERROR(unlink.Run());
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(db_, "DELETE FROM qos_specs WHERE id=?"));
    st.Bind(1, id);
    return st.RunUpdate("QoS spec " + id + " could not be found.");
  });
}

Result<std::vector<VolumeTypeRecord>> Catalog::TypesWithQosSpecs(
    const std::string& id) {
  std::vector<VolumeTypeRecord> out;
  STRATA_ASSIGN_OR_RETURN(auto all, ListVolumeTypes(true));
  for (auto& t : all)
    if (t.qos_specs_id == id) out.push_back(std::move(t));
  return out;
}

}  // namespace strata::db
