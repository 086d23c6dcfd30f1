"""RACI: the matrix that staffs each incident from the organisation, and the chase of
late stages."""
