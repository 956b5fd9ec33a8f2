"""Estimates used only when a resource has no cost rows: a small, dated list-price table.

Every figure is an Azure pay-as-you-go *list* price in **USD**, East US, Linux,
as published on the Azure pricing pages (and the Retail Prices API,
https://prices.azure.com/api/retail/prices) in 2025-2026; they are approximate,
ignore discounts, reservations and savings plans, and are labelled
``waste_basis: "estimate"`` in every finding that uses them.

* VM sizes: https://azure.microsoft.com/pricing/details/virtual-machines/linux/
  (hourly), expected network bandwidth from the size pages under
  https://learn.microsoft.com/azure/virtual-machines/sizes/overview
* Managed disks (per month, by performance tier of the provisioned size):
  https://azure.microsoft.com/pricing/details/managed-disks/
* Public IPs (Standard static IPv4 0.005 USD/hour, Basic static 0.0036 USD/hour):
  https://azure.microsoft.com/pricing/details/ip-addresses/
"""

from __future__ import annotations

__all__ = [
    "ESTIMATE_CURRENCY",
    "disk_monthly",
    "public_ip_hourly",
    "vm_bandwidth_mbps",
    "vm_hourly",
]

ESTIMATE_CURRENCY = "USD"

# size (lower case) -> (USD per hour, expected network bandwidth in Mbit/s)
_VM: dict[str, tuple[float, float]] = {
    "standard_b1s": (0.0104, 320.0),
    "standard_b2s": (0.0416, 1280.0),
    "standard_b2ms": (0.0832, 1280.0),
    "standard_d2s_v3": (0.096, 1000.0),
    "standard_d4s_v3": (0.192, 2000.0),
    "standard_d8s_v3": (0.384, 4000.0),
    "standard_d16s_v3": (0.768, 8000.0),
    "standard_d2s_v5": (0.096, 12500.0),
    "standard_d4s_v5": (0.192, 12500.0),
    "standard_ds3_v2": (0.229, 3000.0),
    "standard_e4s_v3": (0.252, 2000.0),
    "standard_e8s_v3": (0.504, 4000.0),
    "standard_f4s_v2": (0.169, 5000.0),
    "standard_nc6s_v3": (3.06, 24000.0),
    "standard_nc24ads_a100_v4": (3.673, 20000.0),
    "standard_nc4as_t4_v3": (0.526, 8000.0),
}

# (tier letter of the SKU family, upper size bound in GiB) -> USD per month, LRS
_DISK: dict[str, list[tuple[int, float]]] = {
    "premium": [
        (4, 0.6),
        (8, 1.2),
        (16, 2.4),
        (32, 5.28),
        (64, 10.21),
        (128, 19.71),
        (256, 38.01),
        (512, 73.22),
        (1024, 135.17),
        (2048, 259.05),
        (4096, 495.57),
    ],
    "standardssd": [
        (4, 0.3),
        (8, 0.6),
        (16, 1.2),
        (32, 2.4),
        (64, 4.8),
        (128, 9.6),
        (256, 19.2),
        (512, 38.4),
        (1024, 76.8),
        (2048, 153.6),
        (4096, 307.2),
    ],
    "standard": [
        (32, 1.54),
        (64, 3.01),
        (128, 5.89),
        (256, 11.33),
        (512, 21.76),
        (1024, 40.96),
        (2048, 81.92),
        (4096, 163.84),
    ],
}


def vm_hourly(size: str) -> float | None:
    entry = _VM.get(size.lower())
    return entry[0] if entry else None


def vm_bandwidth_mbps(size: str) -> float | None:
    entry = _VM.get(size.lower())
    return entry[1] if entry else None


def disk_monthly(sku: str, size_gb: float) -> float | None:
    """Monthly list price of a managed disk of ``sku`` (e.g. ``Premium_LRS``) provisioned at ``size_gb``."""
    low = sku.lower()
    family = (
        "premium"
        if low.startswith("premium")
        else "standardssd"
        if low.startswith("standardssd")
        else ("standard" if low.startswith("standard") else "")
    )
    tiers = _DISK.get(family)
    if not tiers or size_gb <= 0:
        return None
    for bound, price in tiers:
        if size_gb <= bound:
            return price
    return None


def public_ip_hourly(sku: str) -> float:
    return 0.005 if sku.lower() == "standard" else 0.0036
