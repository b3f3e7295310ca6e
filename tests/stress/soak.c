/* soak.c - placeholder, written next. */
#include "stress.h"
int main(void) { return 77; }
