// Package attacks crafts adversarial examples for the adversarial-detection
// benchmark: FGSM, BIM (I-FGSM, with the BIM-A early stop), PGD under L∞ and
// L2, Carlini–Wagner L2 and DeepFool (L2).
//
// Conventions:
//   - Images are NCHW float32 in pixel space [0,1]; every attack returns
//     images in [0,1]. Mean/std normalisation is a layer of the model, so ε is
//     in pixel units (ε = 8/255 means 8 grey levels).
//   - Attacks are untargeted: y holds the true labels and an attack succeeds
//     on sample i when the model's arg-max prediction on the adversarial image
//     differs from y_i.
//   - Gradients come from the model through one call per step
//     (Model.InputGrad, one batched forward and backward pass); losses are
//     per sample (sums, never batch means), so no sample's step depends on
//     another sample of its batch.
//   - Runs are deterministic: sample i of a run draws its random numbers
//     (random starts) from a PCG generator seeded with (seed, i), so the
//     result is identical for any number of workers, and for any batch size
//     if the model's output rows do not depend bit for bit on the rest of the
//     batch (measured true for models' LeNet-5 with batch sizes 50 and 64).
//
// Default parameters are torchattacks 3.5.1's; where torchattacks lacks a
// parameter the doc comment of the attack names the library the default comes
// from. Named presets (Presets) give the settings of the classic detection
// papers (Feinman et al. 2017, Ma et al. 2018, Lee et al. 2018).
//
// Adding an attack touches one file: implement Attack and call Register from
// the file's init function.
package attacks
