# lm_embed(target FILE <path> SYMBOL <name>): compiles the bytes of a file
# into `target` as
#     const char <name>[];        /* the file's bytes, then a NUL */
#     const size_t <name>_len;    /* without the NUL */
# regenerated at build time whenever the file changes. One mechanism for
# every built-in file (the default decisions.yaml, the default model, the
# board's page), so a shipped default can never drift from its file.
set(LM_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/lm_embed_file.cmake)

function(lm_embed target)
  cmake_parse_arguments(E "" "FILE;SYMBOL" "" ${ARGN})
  if(NOT E_FILE OR NOT E_SYMBOL)
    message(FATAL_ERROR "lm_embed(${target} FILE <path> SYMBOL <name>)")
  endif()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embed_${E_SYMBOL}.c)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${E_FILE} -DOUT=${out} -DSYMBOL=${E_SYMBOL}
            -P ${LM_EMBED_SCRIPT}
    DEPENDS ${E_FILE} ${LM_EMBED_SCRIPT}
    COMMENT "embed ${E_FILE} as ${E_SYMBOL}")
  target_sources(${target} PRIVATE ${out})
  if(target MATCHES "^lm_") # a layer of common/: the fuzz build needs it
    set_property(GLOBAL APPEND PROPERTY LM_EMBEDDED_SOURCES ${out})
    set_property(GLOBAL APPEND PROPERTY LM_EMBED_TARGETS ${target})
  endif()
endfunction()
