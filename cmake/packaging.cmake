# The Debian package: `cpack -G DEB` in the build tree builds
# compeit-server_<version>_<arch>.deb (tests/package/run.sh does, and checks it).
#
#   /usr/bin/compeit-server
#   /usr/share/compeit/{web,wasm,socket.io-client}   what the server serves
#   /etc/compeit/compeit.conf                        a conffile
#   /usr/lib/systemd/system/compeit-server.service   user compeit, state in /var/lib/compeit
#   /usr/share/doc/compeit-server/                   operations.md, the haproxy/cluster example
#
# The WASM client is built by the wasm preset (scripts/build.sh wasm) into
# COMPEIT_WASM_PACKAGE_DIR; without it the package step stops and says so.

set(COMPEIT_WASM_PACKAGE_DIR "${PROJECT_SOURCE_DIR}/build/wasm/package" CACHE PATH
    "The built WASM client package (the wasm preset's build/wasm/package) the .deb ships in /usr/share/compeit/wasm")
set(COMPEIT_LEGACY_CLIENT_DIR "${PROJECT_SOURCE_DIR}/node_modules/socket.io-client" CACHE PATH
    "socket.io-client 0.9.6 (npm ci) the .deb ships in /usr/share/compeit/socket.io-client")

set(_deb "${PROJECT_SOURCE_DIR}/deploy/debian")

install(TARGETS compeit-server RUNTIME DESTINATION bin COMPONENT server)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/web/" DESTINATION share/compeit/web COMPONENT server)
# Checked when the package is made (cpack runs the install rules), not at configure
# time: CI builds the WASM client before it packages.
install(CODE "
  foreach(f \"${COMPEIT_WASM_PACKAGE_DIR}/package.json\"
            \"${COMPEIT_LEGACY_CLIENT_DIR}/package.json\"
            \"${COMPEIT_LEGACY_CLIENT_DIR}/dist/socket.io.js\")
    if(NOT EXISTS \"\${f}\")
      message(FATAL_ERROR \"compeit package: \${f} is missing. Build the WASM client first \"
                          \"(scripts/build.sh wasm, or -DCOMPEIT_WASM_PACKAGE_DIR=...) and run npm ci \"
                          \"(or -DCOMPEIT_LEGACY_CLIENT_DIR=...).\")
    endif()
  endforeach()" COMPONENT server)
install(DIRECTORY "${COMPEIT_WASM_PACKAGE_DIR}/" DESTINATION share/compeit/wasm COMPONENT server)
# What native/src/legacy_client.cpp reads: the package.json (name, version) and the two builds.
install(FILES "${COMPEIT_LEGACY_CLIENT_DIR}/package.json" DESTINATION share/compeit/socket.io-client
        COMPONENT server)
install(FILES "${COMPEIT_LEGACY_CLIENT_DIR}/dist/socket.io.js" "${COMPEIT_LEGACY_CLIENT_DIR}/dist/socket.io.min.js"
        DESTINATION share/compeit/socket.io-client/dist COMPONENT server)
install(FILES "${_deb}/compeit.conf" DESTINATION /etc/compeit COMPONENT server)
install(FILES "${_deb}/compeit-server.service" DESTINATION lib/systemd/system COMPONENT server)
install(FILES "${PROJECT_SOURCE_DIR}/docs/operations.md" "${PROJECT_SOURCE_DIR}/README.md"
        DESTINATION share/doc/compeit-server COMPONENT server)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/deploy/haproxy" DESTINATION share/doc/compeit-server/examples
        COMPONENT server USE_SOURCE_PERMISSIONS)
install(PROGRAMS "${PROJECT_SOURCE_DIR}/scripts/run-cluster.sh" DESTINATION share/doc/compeit-server/examples
        COMPONENT server)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "compeit-server")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "COMPEIT")
set(CPACK_PACKAGE_CONTACT "COMPEIT maintainers <compeit@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "COMPEIT real-time server (socket.io 0.9): rooms, chat and video calls")
set(CPACK_PACKAGE_DESCRIPTION
    "A C++ re-implementation of the COMPEIT real-time server with its web app, its WebAssembly\nclient and a systemd unit.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # compeit-server_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "sqlite3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${_deb}/conffiles;${_deb}/postinst;${_deb}/prerm;${_deb}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
