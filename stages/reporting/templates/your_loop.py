"""Truncated BPTT with one label per sequence: detect, and avoid, fitting the initial state."""
import torch
import torch.nn.functional as F


def run_pass(gru, head, x, y, bptt, opt=None, carry=False, burn_in=0):
    """Mean last-step loss over the bptt-step chunks of x (batch, steps, features); with opt, an
    update per chunk. carry=True: the write-up's loop, the detached state crosses updates. The fix,
    carry=False: each chunk from a fresh state, burnt in over the burn_in steps before it if > 0."""
    losses = []
    for t in range(0, x.shape[1], bptt):
        if t == 0 or not carry:  # random initial state: N(0, 1) clipped to [-1, 1], drawn anew
            h = torch.randn(gru.num_layers, len(x), gru.hidden_size).clamp(-1, 1)
            with torch.no_grad():  # burn-in: no loss, no gradient; burn_in extra steps a chunk
                h = gru(x[:, max(0, t - burn_in):t], h)[1] if burn_in and t else h
        out, h = gru(x[:, t:t + bptt], h.detach())
        loss = F.cross_entropy(head(out[:, -1]), y)
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


@torch.no_grad()
def frozen_gap(gru, head, x, y, bptt, update_loss, carry=True, burn_in=0):
    """After an epoch: frozen-pass loss (same chunks, no updates, fresh initial states) minus the
    update-pass loss. Above 0.2 * ln(classes): the loop fits the initial states, not the data."""
    return run_pass(gru, head, x, y, bptt, None, carry, burn_in) - update_loss
