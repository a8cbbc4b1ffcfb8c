// Package attacks is reserved for the adversarial attacks (FGSM, BIM, PGD,
// CW-L2, DeepFool) of the adversarial-detection benchmark. It holds no code
// yet: nothing in the harness generates adversarial examples today.
package attacks
