"""Published wM-Bus telegrams with the values their documents state.

Each value was also worked out by hand from EN 13757-3/-4/-7 (see the comments).
"""

# OMS specification volume 2, annex N.2.1: "wM-Bus meter with security profile A"
# (mode 5), and the same telegram with frame format A CRCs.  Gas meter ELS 12345678.
OMS_MODE5 = bytes.fromhex(
    "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6D"
    "EFC99D6D69EBF3")
OMS_MODE5_CRC = bytes.fromhex(
    "2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493BC2AD013EC4A6F6D3529B520E"
    "DFF0EA6DEFC955B29D6D69EBF3EC8A")
OMS_MODE5_KEY = bytes.fromhex("0102030405060708090A0B0C0D0E0F11")
# Plaintext after AES-CBC with IV 9315 7856341233 03 + 8 x 2A:
#   2F2F | 0C 14 27048502 | 04 6D 32371F15 | 02 FD17 0000 | 2F2F...
#   0C = 8-digit BCD, VIF 14 = volume 10^(4-6) m3: 02850427 -> 28504.27 m3
#   04 6D = 32-bit date-time type F: min 0x32&63=50, hour 0x37&31=23, day 0x1F&31=31,
#           month 0x15&15=5, year (0x1F>>5)|(0x15&0xF0)>>1 = 8 -> 2008-05-31 23:50
#   02 FD17 = error flags, 0
OMS_RECORDS = [
    ("volume", 28504.27, "m3", 0, 0, 0, "instantaneous", "0c14"),
    ("datetime", "2008-05-31T23:50:00", "", 0, 0, 0, "instantaneous", "046d"),
    ("error_flags", 0, "", 0, 0, 0, "instantaneous", "02fd17"),
]

# OMS volume 2, annex N: the same meter with security profile B (mode 7): ELL CI 8C
# (CC 20, ACC 75), AFL CI 90 (FCL 2C00: MCL, MCR and MAC present; MCL 25: AES-CMAC
# 8 bytes; MCR 0x00000AB3; MAC 21924D4F2FB66E01), TPL 7A with CW 0720 (mode 7, two
# blocks) and CFE 10 (key derivation function 1).  Same records after decryption.
OMS_MODE7 = bytes.fromhex(
    "434493157856341233038C2075900F002C25B30A000021924D4F2FB66E017A75002007109058475F"
    "4BC91DF878B80A1B0F98B629024AAC727942BFC549233C0140829B93")
OMS_MODE7_CRC = bytes.fromhex(
    "434493157856341233037AC98C2075900F002C25B30A000021924D4FBA372FB66E017A7500200710"
    "9058475F4BC9D1281DF878B80A1B0F98B629024AAC7279429398BFC549233C0140829B93BAA1")
OMS_MODE7_KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")

# jMBus (OpenMUC) DecryptionTest: Kamstrup KAM 63452869 (cold water, version 0x1B),
# ELL CI 8D with AES-CTR; "record 1 is 474.24" (m3).  After decryption: payload CRC
# 2B13, CI 78, then 02 FF20 0000 (manufacturer specific), 04 13 803C0700 (volume,
# 0x00073C80 = 474240 l), 44 13 9F380700 (storage 1: 473247 l).
KAMSTRUP_ELL = bytes.fromhex(
    "24442D2C692845631B168D3050209CD621B006B1140AEF4953AE5B86FAFC0B00E70705B846")
KAMSTRUP_KEY = bytes.fromhex("4E5508544202058100DFEFA06B0934A5")
KAMSTRUP_RECORDS = [
    ("manufacturer_specific", "0000", "", 0, 0, 0, "instantaneous", "02ff20"),
    ("volume", 474.24, "m3", 0, 0, 0, "instantaneous", "0413"),
    ("volume", 473.247, "m3", 1, 0, 0, "instantaneous", "4413"),
]

# jMBus WMBusMessageTest "decode negative temperature": heat meter LUG 67991306,
# unencrypted, short header.  0B 5E 4000F0: 6-digit BCD, top nibble F = negative,
# -40 x 10^(2-3) Cel = -4.0 Cel return temperature.
LUG_HEAT = bytes.fromhex(
    "2C44A7320613996707047A821000202F2F0C06000000000C14000000000C22224101000B5A410200"
    "0B5E4000F0")
LUG_RECORDS = [
    ("energy", 0, "kWh", 0, 0, 0, "instantaneous", "0c06"),      # VIF 06: 10^3 Wh
    ("volume", 0.0, "m3", 0, 0, 0, "instantaneous", "0c14"),
    ("on_time", 14122, "h", 0, 0, 0, "instantaneous", "0c22"),   # BCD 00014122 h
    ("flow_temperature", 24.1, "Cel", 0, 0, 0, "instantaneous", "0b5a"),  # 000241 x 0.1
    ("return_temperature", -4.0, "Cel", 0, 0, 0, "instantaneous", "0b5e"),
]

# ioBroker wireless-mbus test "Long Header - Encrypted Mode 5": AMB 57000044 (radio
# converter, meter side, version 0x0C), CI 72 with the same address, ACC 0xA3, CW 0530
# (mode 5, three blocks).  Records by hand: 0E 13 750600000000 = 12-digit BCD 675 x
# 10^-3 m3; 0D FD11 = customer, variable length text (sent last character first).
AMBER_LONG = bytes.fromhex(
    "4644a205440000570c377244000057a2050c37a3003005d898c64fd0c9bd2634365084e4df946736"
    "c71a2103e45a190caa1a49b602e46c9f45fcee79afbe34f0c167fd857f659e")
AMBER_KEY = bytes.fromhex("CAFEBABE123456789ABCDEF0CAFEBABE")
