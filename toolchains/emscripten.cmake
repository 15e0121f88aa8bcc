# Emscripten toolchain for the WebAssembly client (Debian's emscripten package).
# Debian's em++ needs Debian's acorn for its JS optimiser.
set(ENV{NODE_PATH} "/usr/share/nodejs")
if(NOT DEFINED EMSCRIPTEN_ROOT_PATH)
  set(EMSCRIPTEN_ROOT_PATH "/usr/share/emscripten")
endif()
include("${EMSCRIPTEN_ROOT_PATH}/cmake/Modules/Platform/Emscripten.cmake")

# Header-only libraries must come from their own folders, never /usr/include
# (host glibc headers break em++): expose nlohmann/ alone through a symlink.
set(_compeit_third_party "${CMAKE_BINARY_DIR}/third_party/include")
file(MAKE_DIRECTORY "${_compeit_third_party}")
if(NOT EXISTS "${_compeit_third_party}/nlohmann")
  file(CREATE_LINK "/usr/include/nlohmann" "${_compeit_third_party}/nlohmann" SYMBOLIC)
endif()
set(COMPEIT_JSON_INCLUDE "${_compeit_third_party}" CACHE PATH "" FORCE)
