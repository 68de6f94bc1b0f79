"""CRC-16/CCITT-FALSE, the checksum of EMVCo merchant-presented QR payloads (ISO/IEC 13239)."""

import binascii


def crc16_ccitt_false(data: bytes) -> str:
    """Polynomial 0x1021, initial 0xFFFF, no reflection: four uppercase hex digits."""
    return f"{binascii.crc_hqx(data, 0xFFFF):04X}"
