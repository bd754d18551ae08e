# cmake -DIN=<file> -DOUT=<file.c> -DSYMBOL=<name> -P lm_embed_file.cmake
# (see LmEmbed.cmake): writes IN's bytes as a C array.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR n "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REPEAT "0x..," 16 row)
string(REGEX REPLACE "(${row})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}" "/* Generated from ${IN} by cmake/LmEmbed.cmake; do not edit. */
#include <stddef.h>
extern const char ${SYMBOL}[];
extern const size_t ${SYMBOL}_len;
const char ${SYMBOL}[] = {
${bytes}0x00};
const size_t ${SYMBOL}_len = ${n};
")
