#include "compeit/ca/input.hpp"

namespace compeit::ca {
namespace {
const json& null_value() {
    static const json n;
    return n;
}
}  // namespace

Input::Input(const json& object, std::string_view what, std::string prefix)
    : object_(&object), prefix_(std::move(prefix)) {
    if (!object.is_object()) {
        error_ = std::string(what) + " must be an object";
        object_ = &null_value();
    }
}

void Input::fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
}

const json* Input::find(std::string_view key) const {
    if (!error_.empty() || !object_->is_object()) return nullptr;
    const auto it = object_->find(key);
    return it == object_->end() ? nullptr : &*it;
}

bool Input::problem(std::string_view key, std::string_view what) {
    fail(prefix_ + std::string(key) + " must be " + std::string(what));
    return false;
}

std::string Input::string(std::string_view key, std::size_t max_bytes) {
    auto s = opt_string(key, max_bytes);
    if (!s && error_.empty()) problem(key, "a string");
    return s ? std::move(*s) : std::string();
}

std::optional<std::string> Input::opt_string(std::string_view key, std::size_t max_bytes) {
    const json* v = find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) return problem(key, "a string"), std::nullopt;
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max_bytes) return problem(key, "at most " + std::to_string(max_bytes) + " bytes"), std::nullopt;
    return s;
}

bool Input::boolean(std::string_view key, bool absent) { return opt_boolean(key).value_or(absent); }

std::optional<bool> Input::opt_boolean(std::string_view key) {
    const json* v = find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_boolean()) return problem(key, "true or false"), std::nullopt;
    return v->get<bool>();
}

UserId Input::user(std::string_view key) {
    const auto id = opt_user(key);
    if (!id && error_.empty()) problem(key, "a user id");
    return id.value_or(0);
}

std::optional<UserId> Input::opt_user(std::string_view key) { return integer(key, 1, kMaxRoomId, "a user id"); }

std::optional<std::int64_t> Input::opt_integer(std::string_view key, std::int64_t min, std::int64_t max) {
    return integer(key, min, max, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
}

std::optional<std::int64_t> Input::integer(std::string_view key, std::int64_t min, std::int64_t max,
                                           std::string_view what) {
    const json* v = find(key);
    if (!v || v->is_null()) return std::nullopt;
    // Integers only: 1.5, 1e3 and -0.0 are floats to nlohmann, and are refused.
    if (v->is_number_unsigned()) {
        const auto u = v->get<std::uint64_t>();
        if (max < 0 || u > static_cast<std::uint64_t>(max) || (min > 0 && u < static_cast<std::uint64_t>(min)))
            return problem(key, what), std::nullopt;
        return static_cast<std::int64_t>(u);
    }
    if (!v->is_number_integer()) return problem(key, what), std::nullopt;
    const auto i = v->get<std::int64_t>();
    if (i < min || i > max) return problem(key, what), std::nullopt;
    return i;
}

const json* Input::any(std::string_view key) {
    const json* v = find(key);
    if (!v && error_.empty()) problem(key, "present");
    return v;
}

const json* Input::opt_object(std::string_view key) {
    const json* v = find(key);
    if (!v || v->is_null()) return nullptr;
    if (!v->is_object()) return problem(key, "an object"), nullptr;
    return v;
}

}  // namespace compeit::ca
