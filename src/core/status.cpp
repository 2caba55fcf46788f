#include "critlab/core/status.h"

namespace critlab {

std::string Status::to_string() const {
  if (ok()) return "ok";
  return message.empty() ? critlab::to_string(code) : critlab::to_string(code) + ": " + message;
}

void put_status(nlohmann::json& j, const Status& s) {
  j["status"] = critlab::to_string(s.code);
  j["message"] = s.message;
}

Status status_from_json(const nlohmann::json& j) {
  if (!j.contains("status")) return {};
  return {from_string<StatusCode>(j.at("status").get<std::string>()), j.value("message", std::string())};
}

}  // namespace critlab
