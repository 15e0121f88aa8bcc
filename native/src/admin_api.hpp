// The admin HTTP API under /admin/ (docs/operations of README "Admin"): JSON
// in and out, authorised by the admin bearer token (--admin-token) or an
// access token with the `admin` capability; every action is logged with who
// did it. Kept apart from the HTTP session so the session only routes:
// requests come in as plain values, answers go out through `reply`.
//
//   GET  /admin/rooms[?after=R&limit=N]  {rooms:[{room, members}], next?}
//   GET  /admin/rooms/R                  {room, members:[{id, name}]}
//   POST /admin/rooms/R/close            {room, removed}: every member leaves the room
//   POST /admin/rooms/R/announce {text}  the stored chat message
//   POST /admin/users/U/kick             {user}: the user's session ends
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace compeit::native {

class Server;

struct AdminRequest {
    std::string_view method;  // "GET", "POST", ...
    std::string_view path;    // starts with /admin/
    std::string_view query;
    std::string_view body;
    std::string_view authorization;  // the Authorization header
    std::string address;             // the client's address, for throttling and the log
};

struct AdminReply {
    unsigned status = 200;
    std::string json;
};

void handle_admin(Server& server, const AdminRequest& request, std::function<void(AdminReply)> reply);

}  // namespace compeit::native
