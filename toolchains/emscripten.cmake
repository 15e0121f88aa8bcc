# Emscripten toolchain for the WebAssembly client (Debian's emscripten package).
# Debian's em++ needs Debian's acorn for its JS optimiser.
set(ENV{NODE_PATH} "/usr/share/nodejs")
if(NOT DEFINED EMSCRIPTEN_ROOT_PATH)
  set(EMSCRIPTEN_ROOT_PATH "/usr/share/emscripten")
endif()
include("${EMSCRIPTEN_ROOT_PATH}/cmake/Modules/Platform/Emscripten.cmake")

# Header-only libraries must come from their own folders, never /usr/include
# (host glibc headers break em++): expose nlohmann/ and catch2/ alone through symlinks.
set(_compeit_third_party "${CMAKE_BINARY_DIR}/third_party/include")
file(MAKE_DIRECTORY "${_compeit_third_party}")
foreach(_lib nlohmann catch2)
  if(NOT EXISTS "${_compeit_third_party}/${_lib}")
    file(CREATE_LINK "/usr/include/${_lib}" "${_compeit_third_party}/${_lib}" SYMBOLIC)
  endif()
endforeach()
set(COMPEIT_JSON_INCLUDE "${_compeit_third_party}" CACHE PATH "" FORCE)
