"""Order handling: a blocking sleep, a helper that blocks, and a retry that retries on bugs."""

import asyncio
import time

import tenacity

from .storage import audit_log, load_catalogue


@tenacity.retry(retry=tenacity.retry_if_exception_type(Exception), stop=tenacity.stop_after_attempt(3))
async def place_order(client, order):
    catalogue = load_catalogue("catalogue.json")  # reads a file on the event loop, two calls deep
    if order["item"] not in catalogue:
        time.sleep(1)  # stalls every task on the loop
    response = await client.post("/orders", json=order)
    audit_log("orders.log", f"placed {order['item']}")
    return response


async def notify(client, order):
    asyncio.create_task(client.post("/notify", json=order))  # the task may be garbage-collected
