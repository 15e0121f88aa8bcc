#include "compeit/auth/token.hpp"

#include "compeit/ca/input.hpp"
#include "compeit/util/json_guard.hpp"
#include "compeit/util/base64url.hpp"

namespace compeit::auth {
namespace {

std::optional<Algorithm> algorithm(std::string_view name) {
    if (name == "HS256") return Algorithm::hs256;
    if (name == "ES256") return Algorithm::es256;
    if (name == "RS256") return Algorithm::rs256;
    return std::nullopt;  // "none", HS384, ... are not accepted
}

// Text from an unverified token, fit for a refusal (which goes to the log):
// printable ASCII only, so no forged log line or terminal control, and short.
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 32)) out += c >= 0x20 && c < 0x7F ? c : '?';
    if (s.size() > 32) out += "...";
    return out;
}

// A JSON object from a base64url segment, or why not.
Expected<ca::json, Refusal> segment_json(std::string_view segment, std::string_view what) {
    const auto bytes = util::base64url_decode(segment);
    if (!bytes) return unexpected(std::string(what) + " is not base64url");
    auto j = util::parse_json(*bytes, 8);
    if (!j.is_object()) return unexpected(std::string(what) + " is not a JSON object");
    return j;
}

Expected<Claims, Refusal> claims_of(const ca::json& j) {
    ca::Input in(j, "claims");
    Claims c;
    c.sub = in.string("sub", 256);
    c.name = in.opt_string("name", 400);
    const auto exp = in.opt_integer("exp", 0, ca::kMaxRoomId);
    c.nbf = in.opt_integer("nbf", 0, ca::kMaxRoomId);
    (void)in.opt_integer("iat", 0, ca::kMaxRoomId);  // checked for type only
    const ca::json* rooms = in.any("rooms");
    const ca::json* caps = j.is_object() && j.contains("caps") ? &j["caps"] : nullptr;
    if (!in) return unexpected(in.error());
    if (c.sub.empty()) return unexpected(std::string("sub must be a non-empty string"));
    if (!exp) return unexpected(std::string("exp must be present"));
    c.exp = *exp;

    if (rooms->is_string() && rooms->get_ref<const std::string&>() == "*") {
        c.all_rooms = true;
    } else if (rooms->is_array() && rooms->size() <= 1000) {
        for (const auto& r : *rooms) {
            if (!r.is_number_integer() || r.get<std::int64_t>() < 0 || r.get<std::int64_t>() > ca::kMaxRoomId)
                return unexpected(std::string("rooms must hold room ids"));
            c.rooms.insert(r.get<std::int64_t>());
        }
    } else {
        return unexpected(std::string("rooms must be \"*\" or an array of at most 1000 room ids"));
    }

    c.caps = ca::Capabilities::none();
    if (caps) {
        if (!caps->is_array() || caps->size() > 16) return unexpected(std::string("caps must be an array of names"));
        for (const auto& cap : *caps) {
            const std::string name = cap.is_string() ? cap.get<std::string>() : std::string();
            if (name == "publish") c.caps.publish = true;
            else if (name == "record") c.caps.record = true;
            else if (name == "filter") c.caps.filter = true;
            else if (name == "moderate") c.caps.moderate = true;
            else if (name == "admin") c.caps.admin = true;
            else return unexpected("caps: unknown capability " + printable(cap.is_string() ? name : cap.dump()));
        }
    }
    if (j.contains("agent")) {
        const ca::json& agent = j["agent"];
        if (!agent.is_array() || agent.size() > 16) return unexpected(std::string("agent must be an array of at most 16 types"));
        std::set<std::string> types;
        for (const auto& t : agent) {
            if (!t.is_string() || t.get_ref<const std::string&>().empty() || t.get_ref<const std::string&>().size() > 64)
                return unexpected(std::string("agent must hold types (strings of 1 to 64 bytes)"));
            types.insert(t.get<std::string>());
        }
        c.agent = std::move(types);
    }
    return c;
}

}  // namespace

std::string_view to_string(Algorithm a) {
    switch (a) {
        case Algorithm::hs256: return "HS256";
        case Algorithm::es256: return "ES256";
        case Algorithm::rs256: return "RS256";
    }
    return "";
}

Expected<Token, Refusal> parse_token(std::string_view text) {
    if (text.empty()) return unexpected(std::string("no token"));
    if (text.size() > kMaxTokenBytes) return unexpected(std::string("token longer than 8192 bytes"));
    const auto dot1 = text.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : text.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || text.find('.', dot2 + 1) != std::string_view::npos)
        return unexpected(std::string("not a compact JWS (three parts)"));

    auto header = segment_json(text.substr(0, dot1), "header");
    if (!header) return unexpected(header.error());
    ca::Input h(*header, "header");
    const std::string alg_name = h.string("alg", 16);
    const auto typ = h.opt_string("typ", 16);
    if (!h) return unexpected(h.error());
    if (header->contains("crit")) return unexpected(std::string("header: crit is not supported"));
    if (typ && *typ != "JWT") return unexpected(std::string("header: typ must be JWT"));
    const auto alg = algorithm(alg_name);
    if (!alg) return unexpected("header: alg " + printable(alg_name) + " is not accepted");

    auto payload = segment_json(text.substr(dot1 + 1, dot2 - dot1 - 1), "payload");
    if (!payload) return unexpected(payload.error());
    auto claims = claims_of(*payload);
    if (!claims) return unexpected(claims.error());

    auto signature = util::base64url_decode(text.substr(dot2 + 1));
    if (!signature || signature->empty()) return unexpected(std::string("signature is not base64url"));
    return Token{*alg, std::string(text.substr(0, dot2)), std::move(*signature), std::move(*claims)};
}

Expected<bool, Refusal> check_time(const Claims& c, std::int64_t now, std::int64_t skew) {
    if (now - skew >= c.exp) return unexpected(std::string("expired"));
    if (c.nbf && now + skew < *c.nbf) return unexpected(std::string("not valid yet"));
    return true;
}

std::string encode_unsigned(Algorithm alg, const Claims& c) {
    const ca::json header{{"alg", to_string(alg)}, {"typ", "JWT"}};
    ca::json payload{{"sub", c.sub}, {"exp", c.exp}};
    if (c.name) payload["name"] = *c.name;
    if (c.nbf) payload["nbf"] = *c.nbf;
    if (c.all_rooms) payload["rooms"] = "*";
    else payload["rooms"] = c.rooms;
    ca::json caps = ca::json::array();
    if (c.caps.publish) caps.push_back("publish");
    if (c.caps.record) caps.push_back("record");
    if (c.caps.filter) caps.push_back("filter");
    if (c.caps.moderate) caps.push_back("moderate");
    if (c.caps.admin) caps.push_back("admin");
    payload["caps"] = std::move(caps);
    if (c.agent) payload["agent"] = *c.agent;
    return util::base64url_encode(header.dump()) + "." + util::base64url_encode(payload.dump());
}

std::string encode_signature(std::string_view signing_input, std::string_view signature) {
    return std::string(signing_input) + "." + util::base64url_encode(signature);
}

}  // namespace compeit::auth
