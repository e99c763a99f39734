# The Debian package (cpack -G DEB from the build directory): /usr/bin/hkv, /etc/hkv/hkv.conf as a
# conffile, the systemd units, hkv(1) made from --help by help2man, and /usr/share/doc/hkv.
# Dependencies come from dpkg-shlibdeps; the version is the project's (the one --version prints).
find_program(HELP2MAN help2man REQUIRED)
add_custom_command(
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/hkv.1.gz
  COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section=1
          --name="in-memory key-value cache served over HTTP/1.1 and h2c" $<TARGET_FILE:hkv>
          | gzip -9n > ${CMAKE_CURRENT_BINARY_DIR}/hkv.1.gz
  DEPENDS hkv
  COMMENT "hkv(1) from hkv --help (help2man)"
  VERBATIM)
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/changelog.in ${CMAKE_CURRENT_BINARY_DIR}/changelog @ONLY)
add_custom_command(
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz
  COMMAND gzip -9n -c ${CMAKE_CURRENT_BINARY_DIR}/changelog > ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz
  DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/changelog
  VERBATIM)
add_custom_target(package_docs ALL DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/hkv.1.gz ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz)

install(TARGETS hkv RUNTIME DESTINATION bin)
install(FILES deploy/hkv.conf DESTINATION /etc/hkv PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES deploy/systemd/hkv.service deploy/systemd/hkv@.service DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/hkv.1.gz DESTINATION share/man/man1)
install(FILES README.md deploy/debian/copyright ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz DESTINATION share/doc/hkv)
install(FILES deploy/README.md DESTINATION share/doc/hkv RENAME README.cluster.md)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hkv)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "hkv maintainers <maintainers@users.noreply.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "in-memory key-value cache served over HTTP/1.1 and h2c")
# The extended description; CPack puts the summary above it as the synopsis.
string(CONCAT CPACK_DEBIAN_PACKAGE_DESCRIPTION
       "hkv stores values with POST /store/{key} and serves them with\n"
       "GET /get/{key}, over HTTP/1.1 or cleartext HTTP/2 on one port, with TTLs,\n"
       "entity tags, SIEVE eviction under a memory cap, snapshots and Prometheus\n"
       "metrics. It runs as the systemd service hkv.service, configured in\n"
       "/etc/hkv/hkv.conf.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/hkv/hkv")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/conffiles ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/postinst
    ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/prerm ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
