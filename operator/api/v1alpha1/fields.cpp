#include "api/v1alpha1/fields.h"

#include <climits>

namespace sluice::api::v1alpha1 {

using nlohmann::json;

namespace {

std::string joinPath(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }

Status notA(const std::string& path, const char* key, const json& value, const char* what) {
  return invalidArgument(joinPath(path, key) + ": " + value.dump() + " is not " + what);
}

}  // namespace

bool hasField(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && !object[key].is_null();
}

Status readInt64(const json& object, const char* key, const std::string& path, int64_t& out) {
  if (!hasField(object, key)) return Status::ok();
  const json& value = object[key];
  if (!value.is_number_integer()) return notA(path, key, value, "an integer");
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return invalidArgument(joinPath(path, key) + ": " + value.dump() + " is out of range");
  }
  out = value.get<int64_t>();
  return Status::ok();
}

Status readInt(const json& object, const char* key, const std::string& path, int& out) {
  int64_t number = out;
  if (Status s = readInt64(object, key, path, number); !s.isOk()) return s;
  if (number < INT_MIN || number > INT_MAX) {
    return invalidArgument(joinPath(path, key) + ": " + object[key].dump() + " is out of range");
  }
  out = static_cast<int>(number);
  return Status::ok();
}

Status readNumber(const json& object, const char* key, const std::string& path, double& out) {
  if (!hasField(object, key)) return Status::ok();
  if (!object[key].is_number()) return notA(path, key, object[key], "a number");
  out = object[key].get<double>();
  return Status::ok();
}

Status readBool(const json& object, const char* key, const std::string& path, bool& out) {
  if (!hasField(object, key)) return Status::ok();
  if (!object[key].is_boolean()) return notA(path, key, object[key], "a boolean");
  out = object[key].get<bool>();
  return Status::ok();
}

Status readString(const json& object, const char* key, const std::string& path, std::string& out) {
  if (!hasField(object, key)) return Status::ok();
  if (!object[key].is_string()) return notA(path, key, object[key], "a string");
  out = object[key].get<std::string>();
  return Status::ok();
}

Status readStringList(const json& object, const char* key, const std::string& path, std::vector<std::string>& out) {
  if (!hasField(object, key)) return Status::ok();
  const json& list = object[key];
  if (!list.is_array()) return invalidArgument(joinPath(path, key) + ": expected a list");
  std::vector<std::string> items;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) {
      return invalidArgument(joinPath(path, key) + "[" + std::to_string(i) + "]: " + list[i].dump() +
                             " is not a string");
    }
    items.push_back(list[i].get<std::string>());
  }
  out = std::move(items);
  return Status::ok();
}

Status readObject(const json& object, const char* key, const std::string& path, const json*& out) {
  out = nullptr;
  if (!hasField(object, key)) return Status::ok();
  if (!object[key].is_object()) return invalidArgument(joinPath(path, key) + ": expected an object");
  out = &object[key];
  return Status::ok();
}

Status requireField(const json& object, const char* key, const std::string& path) {
  if (hasField(object, key)) return Status::ok();
  return invalidArgument(joinPath(path, key) + ": missing");
}

}  // namespace sluice::api::v1alpha1
