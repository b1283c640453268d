/* convert.h: a model's layout changed to another architecture's
 * (bnquant --to-arch). */
#ifndef BN_CONVERT_H
#define BN_CONVERT_H

#include "bnt.h"
#include "status.h"

/* Copy the llama model read from r to w in the bitnet layout, as
 * BitDistill's first stage does (Wu et al. 2025, arXiv 2510.13998,
 * section 3.1, eqs. 4-5): an RMSNorm before each layer's attention
 * output projection and FFN down projection, attn_sub_norm.weight and
 * ffn_sub_norm.weight, f32 and all ones, written just before
 * attn_output.weight and ffn_down.weight (the role table's order).
 * Every other record passes as it is (each tensor's bytes unchanged);
 * the configuration says arch=bitnet, and act and bitlinear keep the
 * input's values, written out, since bitnet's defaults (relu2, 1)
 * differ from llama's.  BN_OK, or a status with a detail in e:
 * BN_EUNSUPPORTED for a model whose architecture has tensors bitnet
 * has no place for (qwen2's biases, qwen3's q and k norms, named), or
 * that is bitnet already; BN_EFORMAT for a configuration that breaks
 * the rules (config.h) or a tensor before it.  Errors of r and w are
 * BN_EIO or the reader's status, with no detail: the caller asks
 * them. */
int bn_convert_bitnet(struct bnt_reader *r, struct bnt_writer *w,
    struct bn_err *e);

#endif
