// Operation journal. See journal.h.
#include "engine/journal.h"

#include "util/crash_point.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::engine {

Result<Journal> Journal::Begin(db::Catalog* catalog, const std::string& kind,
                               const std::string& volume_id,
                               const std::string& snapshot_id) {
  db::TaskRecord t;
  t.id = NewUuid();
  t.kind = kind;
  t.volume_id = volume_id;
  if (!snapshot_id.empty()) t.snapshot_id = snapshot_id;
  t.status = "running";
  t.step = kind + ".begin";
  t.created_at = t.updated_at = NowMicros();
  t.state = "{}";
  STRATA_RETURN_IF_ERROR(catalog->InsertTask(t));
  return Journal(catalog, t.id);
}

Journal Journal::Resume(db::Catalog* catalog, const db::TaskRecord& task) {
  Journal j(catalog, task.id);
  j.step_ = task.step;
  j.progress_ = task.progress;
  auto state = nlohmann::json::parse(task.state, nullptr, false);
  if (state.is_object()) j.state_ = std::move(state);
  return j;
}

Status Journal::Step(const std::string& step, int progress) {
  step_ = step;
  progress_ = progress;
  STRATA_RETURN_IF_ERROR(
      catalog_->SetTaskStep(task_id_, step, progress, state_.dump()));
  CrashPoint(step.c_str());
  return Status::OK();
}

Status Journal::Succeed() {
  return catalog_->FinishTask(task_id_, "succeeded", "");
}

Status Journal::Fail(const Status& why) {
  return catalog_->FinishTask(task_id_, "failed",
                              step_ + ": " + why.ToString());
}

}  // namespace strata::engine
