#include <criterion/criterion.h>
Test(json, placeholder_build)
{
    cr_assert(1);
}
