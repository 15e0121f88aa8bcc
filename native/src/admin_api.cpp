#include "admin_api.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <optional>
#include <vector>

#include "compeit/ca/input.hpp"
#include "compeit/util/json_guard.hpp"
#include "compeit/util/url.hpp"
#include "compeit/util/utf.hpp"
#include "log.hpp"
#include "server.hpp"

namespace compeit::native {
namespace {

using json = nlohmann::json;

AdminReply error(unsigned status, std::string_view message) { return {status, json{{"error", message}}.dump()}; }

std::optional<std::int64_t> id_of(std::string_view text) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < 0 || v > ca::kMaxRoomId) return std::nullopt;
    return v;
}

// "/admin/rooms/7/close" -> {"rooms", "7", "close"}
std::vector<std::string_view> segments(std::string_view path) {
    std::vector<std::string_view> out;
    path.remove_prefix(std::string_view("/admin/").size());
    while (!path.empty() && out.size() < 4) {
        const auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    }
    if (!path.empty()) out.push_back("...");  // too deep: no endpoint
    return out;
}

json user_json(const ca::User& u) { return json{{"id", u.id}, {"name", u.name}}; }

AdminReply list_rooms(Server& server, std::string_view query) {
    constexpr std::size_t kMaxPage = 1000;
    std::int64_t after = -1;
    std::size_t limit = kMaxPage;
    if (const auto a = url::query_param(query, "after")) {
        const auto v = id_of(*a);
        if (!v) return error(400, "after must be a room id");
        after = *v;
    }
    if (const auto l = url::query_param(query, "limit")) {
        const auto v = id_of(*l);
        if (!v || *v < 1 || *v > static_cast<std::int64_t>(kMaxPage)) return error(400, "limit must be from 1 to 1000");
        limit = static_cast<std::size_t>(*v);
    }
    json rooms = json::array();
    const auto page = server.router().rooms(after, limit + 1);
    for (std::size_t i = 0; i < page.size() && i < limit; ++i)
        rooms.push_back(json{{"room", page[i].first}, {"members", page[i].second}});
    json out{{"rooms", std::move(rooms)}};
    if (page.size() > limit) out["next"] = page[limit - 1].first;  // ?after= for the next page
    return {200, out.dump()};
}

}  // namespace

void handle_admin(Server& server, const AdminRequest& req, std::function<void(AdminReply)> reply) {
    std::string who;
    switch (server.admin_authorize(req.authorization, req.address, who)) {
        case Server::AdminAuth::ok: break;
        case Server::AdminAuth::throttled: return reply(error(429, "too many failed authorisations: try again later"));
        case Server::AdminAuth::refused: return reply(error(401, "unauthorized"));
    }
    const auto seg = segments(req.path);
    const bool get = req.method == "GET", post = req.method == "POST";
    auto& router = server.router();

    if (seg.size() == 1 && seg[0] == "rooms") {
        if (!get) return reply(error(405, "use GET"));
        return reply(list_rooms(server, req.query));
    }
    if (seg.size() >= 2 && seg.size() <= 3 && seg[0] == "rooms") {
        const auto room = id_of(seg[1]);
        if (!room) return reply(error(404, "no such endpoint"));
        if (seg.size() == 2) {
            if (!get) return reply(error(405, "use GET"));
            json members = json::array();
            for (const auto& u : router.members(*room)) members.push_back(user_json(u));
            return reply({200, json{{"room", *room}, {"members", std::move(members)}}.dump()});
        }
        if (!post) return reply(error(405, "use POST"));
        if (seg[2] == "close") {
            const std::size_t removed = router.close_room(*room);
            log_event(LogLevel::info, LogFields{.event = "admin_action", .room = *room, .remote = req.address}, "admin: ",
                      who, " from ", req.address, " closed room ", *room, " (", removed, " members)");
            return reply({200, json{{"room", *room}, {"removed", removed}}.dump()});
        }
        if (seg[2] == "announce") {
            const json body = util::parse_json(req.body);
            ca::Input in(body, "the body");
            std::string text = in.string("text", 4 * server.options().limits.max_chat_chars);
            if (in && (text.empty() || utf::code_points(text) > server.options().limits.max_chat_chars))
                in.fail("text must be a non-empty string within the chat limit");
            if (!in) return reply(error(400, in.error()));
            log_event(LogLevel::info, LogFields{.event = "admin_action", .room = *room, .remote = req.address},
                      "admin: ", who, " from ", req.address, " announced in room ", *room);
            return server.chat().announce(*room, std::move(text),
                                          [reply = std::move(reply)](Expected<agents::ChatMessage, std::string> stored) {
                                              if (!stored) return reply(error(503, stored.error()));
                                              reply({200, agents::to_json(*stored).dump()});
                                          });
        }
        return reply(error(404, "no such endpoint"));
    }
    if (seg.size() == 3 && seg[0] == "users" && seg[2] == "kick") {
        const auto user = id_of(seg[1]);
        if (!user) return reply(error(404, "no such endpoint"));
        if (!post) return reply(error(405, "use POST"));
        if (!router.kick(*user, server.now())) return reply(error(404, "no such user"));
        log_event(LogLevel::info,
                  LogFields{.event = "admin_action", .user = static_cast<std::uint64_t>(*user), .remote = req.address},
                  "admin: ", who, " from ", req.address, " kicked user ", *user);
        return reply({200, json{{"user", *user}}.dump()});
    }
    reply(error(404, "no such endpoint"));
}

}  // namespace compeit::native
