"""A small async service with the kinds of mistakes asyncreview is built to catch."""

import asyncio
import sys

if sys.version_info >= (3, 11):
    from asyncio import timeout
else:
    from async_timeout import timeout


async def fetch_price(client, item):
    # Fine everywhere: guarded import above.
    async with timeout(2):
        return await client.get(f"/price/{item}")


async def fetch_all(client, items):
    # asyncio.TaskGroup needs 3.11; the project still supports 3.10.
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(fetch_price(client, item)) for item in items]
    return [task.result() for task in tasks]


async def checkout(client, cart):
    async with asyncio.timeout(5):
        return await client.post("/checkout", json=cart)
