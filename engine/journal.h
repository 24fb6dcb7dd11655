// The journal of one disk operation: before each step acts, its name and the
// state needed to resume or undo it are committed to the catalog's tasks
// table (synchronous=FULL), then the step's crash point fires (tests only).
// After a crash, Engine::Recover reads the last journalled step of every
// running task and reconciles the disk's chain, the catalog and the store.
// Thread-safety: one Journal per task, used by the task's thread only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "db/catalog.h"

namespace strata::engine {

class Journal {
 public:
  // Inserts a running task row of `kind` for the volume (and snapshot).
  static Result<Journal> Begin(db::Catalog* catalog, const std::string& kind,
                               const std::string& volume_id,
                               const std::string& snapshot_id);
  // The journal of a task a restart interrupted, to carry it on (its id,
  // last step and state as recorded).
  static Journal Resume(db::Catalog* catalog, const db::TaskRecord& task);
  // Journals `step` (with progress and state) durably, then CrashPoint(step).
  Status Step(const std::string& step, int progress);
  // Resume state recorded with the next Step (paths, ids).
  nlohmann::json& state() { return state_; }
  Status Succeed();
  Status Fail(const Status& why);
  const std::string& task_id() const { return task_id_; }
  // The last step journalled ("" before the first).
  const std::string& step() const { return step_; }

 private:
  Journal(db::Catalog* c, std::string id)
      : catalog_(c), task_id_(std::move(id)) {}
  db::Catalog* catalog_;
  std::string task_id_;
  nlohmann::json state_ = nlohmann::json::object();
  int progress_ = 0;
  std::string step_;
};

}  // namespace strata::engine
