/* introspect.c: being written (issue 5). */
