import pytest

from funds.identifiers import cusip_check_digit, is_valid_cusip, is_valid_isin, isin_check_digit


@pytest.mark.parametrize("cusip", ["037833100", "594918104", "38259P508", "17275R102"])  # Apple, Microsoft, Google, Cisco
def test_real_cusips_are_valid(cusip):
    assert is_valid_cusip(cusip)


@pytest.mark.parametrize("cusip", ["037833101", "03783310", "0378331000", "03783310X", "", None])
def test_bad_cusips_are_invalid(cusip):
    assert not is_valid_cusip(cusip)


def test_cusip_check_digit_by_hand():
    # 0 3 7 8 3 3 1 0 -> doubled evens: 0,6,7,16,3,6,1,0 -> digit sums 0+6+7+1+6+3+6+1+0 = 30 -> check 0
    assert cusip_check_digit("03783310") == "0"


@pytest.mark.parametrize("isin", ["US0378331005", "US5949181045", "GB0002634946"])
def test_real_isins_are_valid(isin):
    assert is_valid_isin(isin)


def test_bad_isin_is_invalid():
    assert not is_valid_isin("US0378331006")
    assert isin_check_digit("US037833100") == "5"


def test_synthetic_identifiers_are_well_formed_and_deterministic():
    from funds.identifiers import synthetic_cusip, synthetic_isin

    assert synthetic_cusip("999", 42) == "99900042" + cusip_check_digit("99900042")
    assert synthetic_cusip("Z", 7) == synthetic_cusip("Z", 7)
    assert is_valid_cusip(synthetic_cusip("9Z", 123))
    assert is_valid_isin(synthetic_isin(synthetic_cusip("9Z", 123)))
    with pytest.raises(ValueError, match="do not fit"):
        synthetic_cusip("999", 123456)
