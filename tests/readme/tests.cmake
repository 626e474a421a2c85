set(_readme_extra "")
if(SPECTRA_SANITIZE)
  set(_readme_extra "-fsanitize=address,undefined")
endif()
add_test(NAME readme_example COMMAND ${CMAKE_COMMAND} -DREADME=${PROJECT_SOURCE_DIR}/README.md -DCC=${CMAKE_C_COMPILER}
         -DINC=${PROJECT_SOURCE_DIR}/include -DLIBFILE=$<TARGET_FILE:spectra> -DWORKDIR=${CMAKE_CURRENT_BINARY_DIR}
         -DEXTRA=${_readme_extra} -P ${CMAKE_CURRENT_LIST_DIR}/readme_example.cmake)
