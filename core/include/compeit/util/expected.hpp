// A minimal expected<T, E>: a value or an error, never both. The core reports
// every failure as a value (no exceptions for control flow), so the WebAssembly
// build can stay small and the JS glue can turn errors into rejected promises.
#pragma once

#include <utility>
#include <variant>

namespace compeit {

template <class E>
struct Unexpected {
    E error;
};

template <class E>
Unexpected<E> unexpected(E e) { return Unexpected<E>{std::move(e)}; }

template <class T, class E>
class Expected {
public:
    Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Expected(Unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const E& error() const { return std::get<1>(v_); }

private:
    std::variant<T, E> v_;
};

}  // namespace compeit
