"""GRU and LSTM layers for several independent replicas at once, with a hand-written backward pass.

A cell of the study is trained from several seeds (replicas). Each replica has its own weights, data and initial
states, but they all have the same shapes, so one batched matrix product (`bmm`) per time step serves them all:
per-call overhead, which dominates small models on a CPU, is paid once instead of once per replica.

The backward pass is written out rather than left to autograd because autograd, fed one small op per gate per step,
spends most of its time zero-filling and accumulating gradients of slices. Here the per-step work is cut to the
sequential minimum: every factor that does not depend on the incoming gradient is computed for all steps at once,
so a backward step is one matrix product and three element-wise ops, and the weight gradients of a whole chunk are
one matrix product at the end. Buffers are time-major (T, S, B, .) so each step's slice is contiguous and results
are written in place (`out=`) rather than copied. The maths
is PyTorch's own (`torch.nn.GRU`, gates r, z, n; `torch.nn.LSTM`, gates i, f, g, o) and `tests/test_model.py` checks
values and gradients against those modules.

Shapes: S replicas, B sequences, T steps, I input features, H units.
    inputs (S, B, T, I), weights w_ih (S, I, G*H), w_hh (S, H, G*H), biases (S, 1, G*H), G = 3 (GRU) or 4 (LSTM).
"""

from __future__ import annotations

import torch

# When the leftover seeds pay to be computed one by one (timed alone on 2 threads, idle machine, 2026-12-01): with
# 3 seeds, from about 3 MFLOP per seed's product on, 1.1 to 1.3 times faster (512 units, 64 sequences: 1.26); with
# 5 seeds a wash (0.93 to 1.12; 0.95 at the default's 256 units and 16 sequences); below 3 MFLOP the extra call
# costs more than the idle thread. The choice never changes a value, only the time.
SPLIT_IDLE_SHARE = 0.25  # split only when the batched product would leave this share of the threads' time idle
SPLIT_FLOPS_PER_SEED = 3e6  # ... and one seed's product is at least this large


def seeds_alone(seeds: int, threads: int, flops_per_seed: float) -> int:
    """How many of the last seeds `seed_bmm` computes one by one, each shared by every thread (0: one `bmm`)."""
    leftover = seeds % threads if seeds > threads else 0
    idle_share = 1 - seeds / (-(-seeds // threads) * threads)
    if not leftover or idle_share < SPLIT_IDLE_SHARE or flops_per_seed < SPLIT_FLOPS_PER_SEED:
        return 0
    return leftover


def seed_bmm(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """`torch.bmm(a, b)` over the seed axis, with the seeds that would leave threads idle computed one by one.

    PyTorch hands the entries of a batched product to its threads whole, so with 3 seeds on 2 threads one thread
    computes two products while the other waits after one: a 3rd seed costs as much as a 4th (README, "Odd seed
    counts waste a thread"). When that idle share is large and the products large enough (`seeds_alone`), the
    seeds that do not fill a round of threads get a product each, which every thread shares. Each seed's product
    is the same product, so the values do not change (tests/test_model.py)."""
    seeds = a.shape[0]
    if out is None:
        out = a.new_empty(seeds, a.shape[1], b.shape[2])
    alone = seeds_alone(seeds, torch.get_num_threads(), 2 * a.shape[1] * a.shape[2] * b.shape[2])
    if not alone:
        return torch.bmm(a, b, out=out)
    whole = seeds - alone
    torch.bmm(a[:whole], b[:whole], out=out[:whole])
    for seed in range(whole, seeds):
        torch.mm(a[seed], b[seed], out=out[seed])
    return out


def gru_step_gates(gi_t: torch.Tensor, gh_t: torch.Tensor, candidate_bias: torch.Tensor, h: torch.Tensor,
                   reset_update_t: torch.Tensor, candidate_t: torch.Tensor, h_next: torch.Tensor) -> None:
    """One GRU step's element-wise work after its product, written into the last three arguments.

    gi_t, gh_t (S, B, 3H) are the input's share of the gates (with the hidden biases of r and z) and the state's
    (h W_hh); the candidate's hidden bias is added into gh_t in place, because the backward pass needs that sum.
    Five calls: at small sizes each costs more in dispatch than in arithmetic (`stages/fused_step.py` weighs a
    compiled, fused form of them)."""
    hidden = h.shape[-1]
    gh_t[..., 2 * hidden:] += candidate_bias
    rz = torch.add(gi_t[..., : 2 * hidden], gh_t[..., : 2 * hidden], out=reset_update_t).sigmoid_()
    n = torch.addcmul(gi_t[..., 2 * hidden:], rz[..., :hidden], gh_t[..., 2 * hidden:])
    torch.tanh(n, out=candidate_t)
    torch.lerp(candidate_t, h, rz[..., hidden:], out=h_next)  # (1 - z) * n + z * h


class GRUChunk(torch.autograd.Function):
    """All steps of one chunk through one GRU layer: (inputs, h0, weights) -> outputs (S, B, T, H)."""

    @staticmethod
    def forward(ctx, inputs, h0, w_ih, w_hh, b_ih, b_hh):  # noqa: D102 - shapes in the module docstring
        replicas, batch, steps, features = inputs.shape
        hidden = h0.shape[-1]
        # The input's share of every gate for all steps at once: one product instead of one per step.
        gi = torch.baddbmm(b_ih, inputs.reshape(replicas, batch * steps, features), w_ih)
        gi = gi.view(replicas, batch, steps, 3 * hidden).permute(2, 0, 1, 3).contiguous()
        # The hidden biases of r and z simply add, so they join the input's share once; the candidate's stays
        # separate because the reset gate scales it (n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).
        gi[..., : 2 * hidden] += b_hh[..., : 2 * hidden]
        hidden_candidate_bias = b_hh[..., 2 * hidden:]
        gh = h0.new_empty(steps, replicas, batch, 3 * hidden)
        reset_update = h0.new_empty(steps, replicas, batch, 2 * hidden)
        candidates = h0.new_empty(steps, replicas, batch, hidden)
        states = h0.new_empty(steps + 1, replicas, batch, hidden)  # h_0 .. h_T
        states[0] = h0
        for t in range(steps):
            # bmm then add, not baddbmm: baddbmm first copies its (broadcast) bias into the output at every step.
            seed_bmm(states[t], w_hh, out=gh[t])
            gru_step_gates(gi[t], gh[t], hidden_candidate_bias, states[t], reset_update[t], candidates[t],
                           states[t + 1])
        ctx.save_for_backward(inputs, w_ih, w_hh, gh, reset_update, candidates, states)
        return states[1:].permute(1, 2, 0, 3)

    @staticmethod
    def backward(ctx, grad_outputs):  # noqa: D102
        inputs, w_ih, w_hh, gh, reset_update, candidates, states = ctx.saved_tensors
        steps, replicas, batch, hidden = candidates.shape
        features = inputs.shape[-1]
        r, z, n = reset_update[..., :hidden], reset_update[..., hidden:], candidates
        # d h_t / d (pre-activations), per step, apart from the incoming gradient: all steps at once.
        through_candidate = (1 - z) * (1 - n * n)
        factors = torch.cat([
            through_candidate * gh[..., 2 * hidden:] * r * (1 - r),  # reset gate
            (states[:-1] - n) * z * (1 - z),  # update gate
            through_candidate * r,  # candidate, hidden side (the reset gate scales W_hn h)
        ], dim=-1).view(steps, replicas, batch, 3, hidden)
        grad_outputs = grad_outputs.permute(2, 0, 1, 3)
        grad_states = torch.empty_like(candidates)  # d loss / d h_t, all paths
        grad_gates = torch.empty_like(gh)  # d loss / d (h W_hh + b_hh)
        w_hh_t = w_hh.transpose(1, 2).contiguous()  # once: a transposed operand would be copied at every step
        grad_h = torch.zeros_like(states[0])
        for t in reversed(range(steps)):
            incoming = torch.add(grad_h, grad_outputs[t], out=grad_states[t])
            torch.mul(incoming.unsqueeze(-2), factors[t], out=grad_gates[t].view(replicas, batch, 3, hidden))
            grad_h = seed_bmm(grad_gates[t], w_hh_t).addcmul_(incoming, z[t])
        flat_gates = grad_gates.permute(1, 0, 2, 3).reshape(replicas, steps * batch, 3 * hidden)
        previous = states[:-1].permute(1, 0, 2, 3).reshape(replicas, steps * batch, hidden)
        grad_w_hh = seed_bmm(previous.transpose(1, 2), flat_gates)
        grad_b_hh = flat_gates.sum(dim=1, keepdim=True)
        # The input side differs only in the candidate: no reset gate scales W_in x.
        grad_gates[..., 2 * hidden:] = grad_states * through_candidate
        flat_gates = grad_gates.permute(1, 2, 0, 3).reshape(replicas, batch * steps, 3 * hidden)
        grad_w_ih = seed_bmm(inputs.reshape(replicas, batch * steps, features).transpose(1, 2), flat_gates)
        grad_b_ih = flat_gates.sum(dim=1, keepdim=True)
        grad_inputs = None
        if ctx.needs_input_grad[0]:
            grad_inputs = seed_bmm(flat_gates, w_ih.transpose(1, 2)).view(replicas, batch, steps, features)
        return grad_inputs, grad_h, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


class LSTMChunk(torch.autograd.Function):
    """All steps of one chunk through one LSTM layer: (inputs, h0, c0, weights) -> (outputs (S, B, T, H), c_T)."""

    @staticmethod
    def forward(ctx, inputs, h0, c0, w_ih, w_hh, b_ih, b_hh):  # noqa: D102
        replicas, batch, steps, features = inputs.shape
        hidden = h0.shape[-1]
        gi = torch.baddbmm(b_ih, inputs.reshape(replicas, batch * steps, features), w_ih)
        gi = gi.view(replicas, batch, steps, 4 * hidden).permute(2, 0, 1, 3).contiguous()
        gi += b_hh  # both biases add to the same pre-activation
        gates = h0.new_empty(steps, replicas, batch, 4 * hidden)  # i, f, o squashed by sigmoid; g by tanh
        states = h0.new_empty(steps + 1, replicas, batch, hidden)  # h_0 .. h_T
        cells = h0.new_empty(steps + 1, replicas, batch, hidden)  # c_0 .. c_T
        states[0], cells[0] = h0, c0
        for t in range(steps):
            pre = seed_bmm(states[t], w_hh, out=gates[t]).add_(gi[t])
            pre[..., : 2 * hidden].sigmoid_()
            pre[..., 3 * hidden:].sigmoid_()
            g = pre[..., 2 * hidden: 3 * hidden].tanh_()
            i, f, o = pre[..., :hidden], pre[..., hidden: 2 * hidden], pre[..., 3 * hidden:]
            torch.addcmul(f * cells[t], i, g, out=cells[t + 1])
            torch.mul(o, torch.tanh(cells[t + 1]), out=states[t + 1])
        ctx.save_for_backward(inputs, w_ih, w_hh, gates, states, cells)
        return states[1:].permute(1, 2, 0, 3), cells[steps]

    @staticmethod
    def backward(ctx, grad_outputs, grad_c_last):  # noqa: D102
        inputs, w_ih, w_hh, gates, states, cells = ctx.saved_tensors
        steps, replicas, batch, four_hidden = gates.shape
        hidden = four_hidden // 4
        features = inputs.shape[-1]
        i, f = gates[..., :hidden], gates[..., hidden: 2 * hidden]
        g, o = gates[..., 2 * hidden: 3 * hidden], gates[..., 3 * hidden:]
        tanh_c = torch.tanh(cells[1:])
        into_cell = o * (1 - tanh_c * tanh_c)  # d c_t / d h_t path: h = o tanh(c)
        cell_factors = torch.cat([g * i * (1 - i), cells[:-1] * f * (1 - f), i * (1 - g * g)], dim=-1)
        cell_factors = cell_factors.view(steps, replicas, batch, 3, hidden)
        output_factor = tanh_c * o * (1 - o)
        grad_outputs = grad_outputs.permute(2, 0, 1, 3)
        grad_gates = torch.empty_like(gates)
        grad_gates_view = grad_gates.view(steps, replicas, batch, 4, hidden)
        w_hh_t = w_hh.transpose(1, 2).contiguous()  # once: a transposed operand would be copied at every step
        grad_h = torch.zeros_like(states[0])
        grad_c = grad_c_last.clone()
        for t in reversed(range(steps)):
            incoming = grad_h + grad_outputs[t]
            grad_c = torch.addcmul(grad_c, incoming, into_cell[t])
            torch.mul(grad_c.unsqueeze(-2), cell_factors[t], out=grad_gates_view[t, :, :, :3])
            torch.mul(incoming, output_factor[t], out=grad_gates_view[t, :, :, 3])
            grad_c = grad_c * f[t]
            grad_h = seed_bmm(grad_gates[t], w_hh_t)
        flat_gates = grad_gates.permute(1, 0, 2, 3).reshape(replicas, steps * batch, 4 * hidden)
        previous = states[:-1].permute(1, 0, 2, 3).reshape(replicas, steps * batch, hidden)
        grad_w_hh = seed_bmm(previous.transpose(1, 2), flat_gates)
        grad_bias = flat_gates.sum(dim=1, keepdim=True)  # the same pre-activation takes both biases
        flat_gates = grad_gates.permute(1, 2, 0, 3).reshape(replicas, batch * steps, 4 * hidden)
        grad_w_ih = seed_bmm(inputs.reshape(replicas, batch * steps, features).transpose(1, 2), flat_gates)
        grad_inputs = None
        if ctx.needs_input_grad[0]:
            grad_inputs = seed_bmm(flat_gates, w_ih.transpose(1, 2)).view(replicas, batch, steps, features)
        return grad_inputs, grad_h, grad_c, grad_w_ih, grad_w_hh, grad_bias, grad_bias.clone()
