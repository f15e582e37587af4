
01JDX0000000000000000000C1u-adaАлЪ╪"apib
r-0001
wizard-hat