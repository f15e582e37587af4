#include <criterion/criterion.h>
Test(codec, placeholder_build)
{
    cr_assert(1);
}
