
01JDX0000000000000000000C3u-adaø«šØ"apib
r-0002
wizard-hat