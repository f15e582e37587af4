/* execute.c: being written (issue 5). */
