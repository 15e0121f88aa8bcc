// --chat-db as hostile input: which URLs open which store, what is refused,
// and that a password never shows in what the server logs or answers.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include "chat_store_factory.hpp"
#include "db_url.hpp"

using namespace compeit::native;

namespace {
const Post kNoLoop = [](std::function<void()> fn) { fn(); };

std::string refusal(const std::string& url) {
    auto store = open_chat_store(url, "/nonexistent-data-dir", Retention{}, kNoLoop);
    REQUIRE_FALSE(store);
    return store.error();
}
}  // namespace

TEST_CASE("db_url: the scheme, as written", "[chat_db_url]") {
    CHECK(url_scheme("postgresql://h/db") == "postgresql");
    CHECK(url_scheme("sqlite:/tmp/x") == "sqlite");
    CHECK(url_scheme("POSTGRES://h") == "POSTGRES");
    CHECK(url_scheme("").empty());
    CHECK(url_scheme("no-colon").empty());
    CHECK(url_scheme(":x").empty());
    CHECK(url_scheme("1abc://x").empty());
    CHECK(url_scheme("a b://x").empty());
}

TEST_CASE("db_url: redacted hides passwords, keeps the rest", "[chat_db_url]") {
    CHECK(redacted("postgresql://chat:s3cret@db.example:5432/chat") == "postgresql://chat:***@db.example:5432/chat");
    CHECK(redacted("postgresql://chat@db/chat") == "postgresql://chat@db/chat");
    CHECK(redacted("postgresql://db:5432/chat") == "postgresql://db:5432/chat");
    CHECK(redacted("postgres://:pw@db/x") == "postgres://:***@db/x");
    // A raw '@', '/' or '?' in a password: everything up to the last '@' is hidden.
    CHECK(redacted("postgresql://u:p@ss/w?rd@db/x") == "postgresql://u:***@db/x");
    CHECK(redacted("postgresql://db/x?sslmode=require&password=pw&connect_timeout=3") ==
          "postgresql://db/x?sslmode=require&password=***&connect_timeout=3");
    CHECK(redacted("postgresql://db/x?sslpassword=k&PassWord=pw") == "postgresql://db/x?sslpassword=***&PassWord=***");
    CHECK(redacted("postgresql://db/x?%70assword=pw") == "postgresql://db/x?%70assword=***");  // libpq decodes keys
    CHECK(redacted("sqlite:/var/lib/chat.sqlite3") == "sqlite:/var/lib/chat.sqlite3");
    // Log lines stay one line, and short.
    CHECK(redacted("foo://a\nb\x1b") == "foo://a?b?");
    const std::string longest = redacted("foo://" + std::string(5000, 'x'));
    CHECK(longest.size() == 203);
    CHECK(longest.substr(200) == "...");
}

TEST_CASE("db_url: scrub removes the password, raw or decoded, from a message", "[chat_db_url]") {
    CHECK(scrub("invalid percent-encoded token: \"p%zzw\"", "postgresql://u:p%zzw@h/db") ==
          "invalid percent-encoded token: \"***\"");
    CHECK(scrub("bad value a b", "postgresql://u:a%20b@h/db") == "bad value ***");
    CHECK(scrub("password pw; pw again", "postgresql://h/db?password=pw") == "password ***; *** again");
    CHECK(scrub("nothing secret", "postgresql://u@h/db") == "nothing secret");
}

TEST_CASE("open_chat_store: refusals name the scheme and what is allowed, never the password", "[chat_db_url]") {
    std::string e = refusal("foo://x");
    CHECK(e.find("unsupported URL scheme \"foo\"") != std::string::npos);
    CHECK(e.find("postgresql://") != std::string::npos);
    CHECK(e.find("sqlite:PATH") != std::string::npos);

    e = refusal("mysql://root:hunter2@db/chat");
    CHECK(e.find("hunter2") == std::string::npos);
    CHECK(e.find("mysql://root:***@db/chat") != std::string::npos);

    CHECK(refusal("chat.sqlite3").find("no URL scheme") != std::string::npos);
    CHECK(refusal("postgresql:/db").find("starts with postgresql://") != std::string::npos);
    CHECK(refusal("PostgreSQL://db/x").find("unsupported URL scheme \"PostgreSQL\"") != std::string::npos);
    CHECK(refusal("sqlite:").find("needs a file path") != std::string::npos);
    CHECK(refusal("postgresql://u:pw@db/x\n").find("control characters") != std::string::npos);
    CHECK(refusal("postgresql://u:pw@db/x\n").find("pw@") == std::string::npos);
    CHECK(refusal(std::string(5000, 'a')).find("longer than 4096 bytes") != std::string::npos);
    // Nobody listens on port 1.
    e = refusal("postgresql://chat:hunter2@127.0.0.1:1/chat?connect_timeout=3");
    CHECK(e.find("cannot use the chat database postgresql://chat:***@127.0.0.1:1/chat") != std::string::npos);
    CHECK(e.find("hunter2") == std::string::npos);
}

TEST_CASE("open_chat_store: empty opens <data-dir>/chat.sqlite3, sqlite:PATH that file", "[chat_db_url]") {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("compeit-factory-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    {
        auto store = open_chat_store("", dir.string(), Retention{}, kNoLoop);
        REQUIRE(store);
        CHECK(std::filesystem::exists(dir / "chat.sqlite3"));
        auto other = open_chat_store("sqlite:" + (dir / "other.db").string(), "/nonexistent", Retention{}, kNoLoop);
        REQUIRE(other);
        CHECK(std::filesystem::exists(dir / "other.db"));
    }
    CHECK(chat_store_location("", "data") == "data/chat.sqlite3 (SQLite)");
    CHECK(chat_store_location("sqlite:/x.db", "data") == "/x.db (SQLite)");
    CHECK(chat_store_location("postgresql://u:pw@h/db", "data") == "postgresql://u:***@h/db (PostgreSQL)");
    std::filesystem::remove_all(dir);
}
